"""Mechanistic probes: per-head causal effects (δ) by exact activation patching, attribution
patching screens, Yang et al.'s three stages, attention summaries and model comparisons.

Entry points: `study.run_study` (what `proclab interp heads` runs), `patching.generic_patch` and
its partials, `attribution.attribution_scores`, `compare.compare_studies`. Submodules import
torch; this package module does not, so the CLI stays fast to start.
"""
