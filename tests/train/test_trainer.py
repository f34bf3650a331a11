"""The [SIG=...]-weighted loss: beta = 0 is TRL's plain loss, beta > 0 matches a full-logits
reference, and neither dropping the padding mask nor padding-free collation changes it."""

from __future__ import annotations

import pytest
import torch

from proclab.train.config import parse_config
from proclab.train.data import load_sft_rows, sft_examples
from proclab.train.runtime import load_base_model, load_tokenizer, lora_config
from proclab.train.trainer import REAL_TOKENS, SIG_COLUMN, SignalCollator, SignalSFTTrainer


@pytest.fixture(scope="module")
def trainer(tiny_model, data_dir, tmp_path_factory):
    from datasets import Dataset
    from trl import SFTConfig

    config = parse_config({"method": "sft", "model": str(tiny_model), "output_dir": "unused",
                           "data": {"sft_file": str(data_dir / "sft.jsonl")}})
    tokenizer = load_tokenizer(str(tiny_model))
    model = load_base_model(str(tiny_model), config)
    examples, _ = sft_examples(load_sft_rows(data_dir / "sft.jsonl"), tokenizer,
                               orders=["PSQ"], order_mode="sample", records=None,
                               max_length=8192, seed=0)
    args = SFTConfig(str(tmp_path_factory.mktemp("t")), bf16=False, report_to="none",
                     gradient_checkpointing=False, max_length=None,
                     dataset_kwargs={"skip_prepare_dataset": True})
    trainer = SignalSFTTrainer(
        model=model, args=args, train_dataset=Dataset.from_list(examples),
        processing_class=tokenizer, peft_config=lora_config(config, model),
        data_collator=SignalCollator(pad_token_id=tokenizer.pad_token_id))
    # Non-zero LoRA B, so the adapter takes part in the forward being compared.
    with torch.no_grad():
        for name, param in trainer.model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02, generator=torch.Generator().manual_seed(len(name)))
    trainer.model.eval()
    return trainer


def _batch(trainer, padding_free=False, keep_mask=True):
    collator = SignalCollator(pad_token_id=trainer.processing_class.pad_token_id,
                              padding_free=padding_free, keep_attention_mask=keep_mask)
    return collator([trainer.train_dataset[i] for i in range(3)])


def _loss(trainer, batch, beta):
    trainer.signal_beta = beta
    with torch.no_grad():
        return trainer.compute_loss(trainer.model, dict(batch)).item()


def _reference(trainer, batch, beta):
    """Weighted next-token NLL from the full logits, normalised by the loss-token count."""
    with torch.no_grad():
        logits = trainer.model(input_ids=batch["input_ids"],
                               attention_mask=batch["attention_mask"]).logits
    labels, sig = batch["labels"][:, 1:], batch[SIG_COLUMN][:, 1:].float()
    logp = torch.log_softmax(logits[:, :-1].float(), -1)
    nll = -logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    mask = (labels != -100).float()
    return ((nll * mask * (1 + beta * sig)).sum() / mask.sum()).item()


def test_beta_zero_equals_trls_plain_loss(trainer):
    batch = _batch(trainer)
    plain = {k: v for k, v in batch.items() if k not in (SIG_COLUMN, REAL_TOKENS)}  # TRL's
    assert _loss(trainer, batch, 0.0) == pytest.approx(_loss(trainer, plain, 0.0), rel=1e-6)


@pytest.mark.parametrize("beta", [0.0, 0.5, 2.0])
def test_weighted_loss_matches_a_full_logits_reference(trainer, beta):
    batch = _batch(trainer)
    assert batch[SIG_COLUMN].sum() > 0
    assert _loss(trainer, batch, beta) == pytest.approx(_reference(trainer, batch, beta),
                                                        rel=1e-5)


def test_beta_raises_the_loss_by_the_signal_tokens_nll(trainer):
    batch = _batch(trainer)
    base, weighted = _loss(trainer, batch, 0.0), _loss(trainer, batch, 1.0)
    signal_only = _reference(trainer, batch, 1.0) - _reference(trainer, batch, 0.0)
    assert weighted - base == pytest.approx(signal_only, rel=1e-4)
    assert signal_only > 0


def test_dropping_the_padding_mask_keeps_the_loss(trainer):
    masked, unmasked = _batch(trainer), _batch(trainer, keep_mask=False)
    assert "attention_mask" not in unmasked
    assert unmasked[REAL_TOKENS] == masked["attention_mask"].sum()
    lengths = masked["attention_mask"].sum(-1)
    assert lengths.min() < lengths.max()  # the batch really is padded
    assert _loss(trainer, unmasked, 0.5) == pytest.approx(_loss(trainer, masked, 0.5), rel=1e-5)


def test_padding_free_collation_gives_the_padded_loss(trainer):
    padded, flat = _batch(trainer), _batch(trainer, padding_free=True)
    assert "attention_mask" not in flat and flat["input_ids"].shape[0] == 1
    assert flat[SIG_COLUMN].shape == flat["labels"].shape
    assert flat[SIG_COLUMN].sum() == padded[SIG_COLUMN].sum()
    assert _loss(trainer, flat, 0.5) == pytest.approx(_loss(trainer, padded, 0.5), rel=1e-4)
