# Two entry points: `make demo` (phantom study end to end) and `make test`.
# Both create .venv on first use. Python 3.11 is required (Debian 12: python3).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= all
CONFIG ?= config/demo.yaml

.PHONY: demo test test-long test-slurm install lint study clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: 2.13.0 is the CPU build (an unpinned torch pulls a multi-GB CUDA build)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,slurm,tensorboard]'
	touch $(STAMP)

# Runs the whole study on CONFIG, then builds the Snakemake HTML report.
study: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG)
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) --report $$($(BIN)/python -m dlscore.config report-path $(CONFIG))
	@echo "Report: $$($(BIN)/python -m dlscore.config report-path $(CONFIG))"

demo:
	$(MAKE) study CONFIG=config/demo.yaml

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Whole-workflow fault, determinism and privacy runs (~18 min on 2 cores); .ci/run runs them after `make test`.
test-long: $(STAMP)
	$(BIN)/python -m pytest -m long $(PYTEST_ARGS)

# SLURM integration test: needs a running cluster (`sudo bash tests/slurm/cluster.sh start`);
# skipped with the reason otherwise. .ci/run starts the cluster and requires it.
test-slurm: $(STAMP)
	$(BIN)/python -m pytest -m slurm $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/snakemake --lint --configfile config/demo.yaml

clean:
	rm -rf results .snakemake
