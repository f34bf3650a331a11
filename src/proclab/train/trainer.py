"""The Reasoning Scaffolding signal objective on top of TRL's SFTTrainer.

`SignalCollator` is TRL's language-modeling collator that also carries the per-token
`sig_mask`; `SignalSFTTrainer.compute_loss` weights each assistant token's negative
log-likelihood by `1 + beta * sig_mask` and normalises by the number of loss tokens, so
beta = 0 gives exactly TRL's plain loss. It uses TRL's fused LM head (no full logits).

Padded batches are right-padded, so under causal attention no real token can see a pad: the
attention mask changes nothing the loss reads, yet it forces a materialised [B, 1, L, L] mask
and a masked attention kernel instead of the causal fast path (2-3x slower on CPU). The
collator therefore drops it unless `keep_attention_mask`, and reports the real-token count in
`num_real_tokens` for the logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from trl import SFTTrainer
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling
from trl.trainer.utils import pad

SIG_COLUMN = "sig_mask"
REAL_TOKENS = "num_real_tokens"


@dataclass
class SignalCollator(DataCollatorForLanguageModeling):
    """TRL's collator (right-padded, or flattened when `padding_free`) plus a `sig_mask` laid
    out exactly like `labels`; see the module docstring for the dropped attention mask."""

    keep_attention_mask: bool = False

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = super().torch_call(examples)
        if SIG_COLUMN not in examples[0]:
            return batch
        batch[REAL_TOKENS] = torch.tensor(sum(len(e["input_ids"]) for e in examples))
        if not self.keep_attention_mask:
            batch.pop("attention_mask", None)
        masks = [torch.tensor(e[SIG_COLUMN], dtype=torch.int8) for e in examples]
        if self.padding_free:
            masks = [torch.cat(masks)]
        batch[SIG_COLUMN] = pad(masks, padding_value=0, padding_side="right",
                                pad_to_multiple_of=self.pad_to_multiple_of)
        return batch


class SignalSFTTrainer(SFTTrainer):
    """SFTTrainer whose loss gives `[SIG=...]` tokens weight 1 + `signal_beta`."""

    def __init__(self, *args: Any, signal_beta: float = 0.0, **kwargs: Any):
        self.signal_beta = float(signal_beta)
        super().__init__(*args, **kwargs)

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if SIG_COLUMN not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, SIG_COLUMN]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        sig = inputs.pop(SIG_COLUMN, None)
        real_tokens = inputs.pop(REAL_TOKENS, None)
        if sig is None or return_outputs or self.aux_loss_enabled:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        inputs["use_cache"] = False
        outputs = model(**inputs, fused_lm_head=True)
        # log_probs are next-token scores of labels[:, 1:], so the weights shift the same way.
        weights = 1.0 + self.signal_beta * sig[:, 1:].to(outputs.log_probs.dtype)
        count = outputs.label_mask.sum() if num_items_in_batch is None else num_items_in_batch
        loss = -(outputs.log_probs * weights).sum() / torch.as_tensor(count).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        self._record_token_metrics(outputs, real_tokens)
        return loss

    def _record_token_metrics(self, outputs: Any, real_tokens: torch.Tensor | None) -> None:
        """The token accuracy, entropy and token count TRL logs for its own loss."""
        mode = "train" if self.model.training else "eval"
        gather = self.accelerator.gather_for_metrics
        valid = gather(outputs.label_mask.sum()).sum()
        if valid > 0:
            self._metrics[mode]["entropy"].append(
                (gather(outputs.entropy.detach().sum()).sum() / valid).item())
            self._metrics[mode]["mean_token_accuracy"].append(
                (gather(outputs.is_top1.sum()).sum() / valid).item())
        if mode == "train" and real_tokens is not None:
            self._total_train_tokens += gather(real_tokens).sum().item() // self._tp_size
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
