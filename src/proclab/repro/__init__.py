"""Reproductions: a whole study (data -> base model -> teacher -> students -> evaluation ->
probes -> report) as one resumable command, `proclab repro NAME` (configs/repro/NAME.yaml)."""
