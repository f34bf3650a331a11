"""Stage 5: training. LoRA students on TRL + PEFT: scaffolded SFT on distilled traces (the
engaged endpoint, `sft.run_sft`) and endpoint-reward GRPO on dataset records (the heuristic
endpoint, `grpo.run_grpo`); `merge.merge_adapter` folds an adapter into its base model.

Configs are YAML (`config.load_config`); the CLI is `proclab train sft|grpo|merge`.
"""
