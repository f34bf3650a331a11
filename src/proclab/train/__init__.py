"""Stage 5: training. Students on TRL (+ PEFT for LoRA; `finetune: full` trains every weight):
scaffolded SFT on distilled traces (the engaged endpoint, `sft.run_sft`; `sft.target: answer`
is the answer-only contrast arm) and endpoint-reward GRPO on dataset records (the heuristic
endpoint, `grpo.run_grpo`); `merge.merge_adapter` folds an adapter into its base model.

Configs are YAML (`config.load_config`); the CLI is `proclab train sft|grpo|merge`.
"""
