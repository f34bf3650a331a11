"""lm-evaluation-harness task files: `proclab.yaml` and the `utils.py` it names."""
