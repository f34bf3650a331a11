"""Stage 7: evaluation. Run a model or a reference baseline over dataset records, log every
sample, and compute metrics with procedure-clustered bootstrap intervals, the failure-pattern
grid, counterfactual-pair and prompt-order statistics; compare runs and write reports.

Library entry points: `runner.run_eval`, `compare.compare_runs`, `report.write_report`.
"""
