# Two commands on a fresh machine: `make demo` and `make test` (each sets up .venv first).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench clean slurm-up slurm-down slurm-status

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU wheel on this machine; a looser pin pulls a multi-GB CUDA build
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/amorphdb run configs/quickstart.yaml

test: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile

test-fast: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/run_all.py

# a real single-node Slurm cluster for the HPC tests (root: installs slurm-wlm + munge via apt)
slurm-up:
	bash scripts/slurm-cluster.sh up

slurm-down:
	bash scripts/slurm-cluster.sh down

slurm-status:
	bash scripts/slurm-cluster.sh status

clean:
	rm -rf $(VENV) build *.egg-info
