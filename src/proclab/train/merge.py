"""`proclab train merge`: fold a LoRA adapter into its base model and save a plain model folder
(for servers that take no adapters); the tokenizer saved beside the adapter comes along. A
full fine-tuning run (`finetune: full`) is such a folder already: merging it is an error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proclab.errors import ProclabError
from proclab.train.runtime import read_manifest, resolve_base


def adapter_base(adapter_dir: Path) -> str:
    """The base model an adapter was trained on: the run manifest's, else adapter_config's."""
    manifest = read_manifest(adapter_dir) or {}
    if manifest.get("base_model"):
        return str(manifest["base_model"])
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path")
    if not base:
        raise ProclabError(f"{adapter_dir} does not say which base model it was trained on",
                           fix="pass --base MODEL")
    return str(base)


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path, *, base: str | None = None,
                  overwrite: bool = False) -> Path:
    """Load base + adapter, `merge_and_unload`, save model and tokenizer into `out_dir`."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter, out = Path(adapter_dir), Path(out_dir)
    manifest = read_manifest(adapter) or {}
    if manifest.get("finetune") == "full" or (
            not (adapter / "adapter_config.json").is_file() and (adapter / "config.json").is_file()):
        raise ProclabError(
            f"{adapter} holds a complete model (a finetune: full run), not a LoRA adapter: "
            "there is nothing to merge",
            fix=f"load it as it is: AutoModelForCausalLM.from_pretrained('{adapter}'), or pass "
            "it to `proclab eval` as --model")
    if not (adapter / "adapter_config.json").is_file():
        raise ProclabError(f"{adapter} holds no PEFT adapter (no adapter_config.json)",
                           fix="point --adapter at the output_dir of `proclab train sft|grpo`")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ProclabError(f"{out} is not empty", fix="choose a new folder, or pass --overwrite")
    base_name = resolve_base(base or adapter_base(adapter))
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(base_name, dtype="auto")
    except (OSError, ValueError) as err:
        raise ProclabError(f"cannot load base model {base_name}: {err}".splitlines()[0],
                           fix="pass --base with a local model folder") from err
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    tokenizer_from = adapter if (adapter / "tokenizer_config.json").is_file() else base_name
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(tokenizer_from).save_pretrained(out)
    return out
