"""Stage 2: perturbations of canonical traces, narrative rendering, verified acceptance."""
