# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
DEMO_OUT ?= runs/demo

.PHONY: demo test test-multiprocess install lint bench bench-learn clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

# Data-parallel runs on 2 CPU processes (gloo): SFT and GRPO through `accelerate launch`, and
# sharded evaluation; part of `make test` too, this runs only them.
test-multiprocess: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/train/test_multiprocess.py tests/evaluate/test_eval_shards.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

# CPU benchmarks; each prints a ratio against a baseline measured in the same run and rewrites
# its bench/RESULTS-*.md (summarised in docs/benchmarks.md). GPU ones: bench/gpu_*.py. The
# learning bench (`proclab repro mini` end to end, ~26 min) runs alone: `make bench-learn`.
CPU_BENCHES := bench_dataset bench_oracle bench_distill bench_eval bench_eval_metrics bench_train bench_interp
bench: $(STAMP)
	set -e; for b in $(CPU_BENCHES); do echo "== $$b"; $(BIN)/python bench/$$b.py; done

bench-learn: $(STAMP)
	$(BIN)/python bench/bench_learn.py --out runs/mini

clean:
	rm -rf $(VENV) runs .pytest_cache
