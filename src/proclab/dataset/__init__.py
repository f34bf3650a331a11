"""Stage 3: the dataset builder — cohorts, splits, dedup, leakage audit, shortcut probes, datacard.

Entry points: `config.load_config`, `build.build` (the runner), `output.write_build` (files),
`records.load_split` / `records.Instance` (reading a built dataset),
`probes.fit_surface_probe` / `probes.SurfaceProbe` (the evaluation stage's surface baseline).
"""
