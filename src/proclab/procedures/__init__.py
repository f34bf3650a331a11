"""Stage 1: procedures as formal data, the guard language and the compliance checker."""
