# Two entry points: `make demo` (phantom study end to end) and `make test`.
# Both create .venv on first use. Python 3.11 is required (Debian 12: python3).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all
CONFIG ?= config/demo.yaml
# torch build: cpu (default, a few hundred MB) or cuda (GPU machines, several GB)
TORCH  ?= cpu
TORCH_INDEX_cpu  ?= https://download.pytorch.org/whl/cpu
TORCH_INDEX_cuda ?= https://download.pytorch.org/whl/cu126
$(if $(filter cpu cuda,$(TORCH)),,$(error TORCH must be cpu or cuda, not '$(TORCH)'))
STAMP  := $(VENV)/.installed-$(TORCH)
# pytest workers (pytest-xdist): the whole-workflow tests wait on single-threaded steps half of
# the time, so two workers keep both cores of a laptop or CI machine busy; WORKERS=0: one process
WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadscope --no-loadscope-reorder)

.PHONY: demo test test-long test-slurm test-envs test-all install lint study clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# switching TORCH in an existing venv: the other build goes first (pip would keep it)
	if ls $(VENV)/.installed-* 2>/dev/null | grep -qv '$(STAMP)'; then $(BIN)/python -m pip uninstall -y -q torch; rm -f $(VENV)/.installed-*; fi
	# torch first, pinned, the build TORCH names, from PyTorch's index for that build when it is
	# reachable (else the configured package index, which may hold either build: printed below)
	if $(BIN)/python -c "import urllib.request; urllib.request.urlopen('$(TORCH_INDEX_$(TORCH))/torch/', timeout=5)" >/dev/null 2>&1; then \
	  $(BIN)/python -m pip install --quiet torch==2.13.0 --index-url $(TORCH_INDEX_$(TORCH)); \
	else \
	  echo "$(TORCH_INDEX_$(TORCH)) is not reachable: torch==2.13.0 from the configured package index"; \
	  $(BIN)/python -m pip install --quiet torch==2.13.0; \
	fi
	$(BIN)/python -c "import torch; print('installed torch', torch.__version__, '- CUDA', torch.version.cuda or 'none (CPU build)')"
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
	$(PYTEST) $(PYTEST_ARGS)

# Whole-workflow fault, determinism and privacy runs; .ci/run runs them (with `make test`) through `make test-all`.
test-long: $(STAMP)
	$(PYTEST) -m long $(PYTEST_ARGS)

# SLURM integration test: needs a running cluster (`sudo bash tests/slurm/cluster.sh start`);
# skipped with the reason otherwise. .ci/run starts the cluster and requires it (DLSCORE_REQUIRE_SLURM=1).
test-slurm: $(STAMP)
	$(PYTEST) -m slurm $(PYTEST_ARGS)

# Each envs/*.yaml pip section installed alone in a clean venv imports what its rules use (minutes).
test-envs: $(STAMP)
	$(PYTEST) -m envs $(PYTEST_ARGS)

# Everything above in one pytest session (what .ci/run calls): the whole-run tests share one
# small study (tests/conftest.py: small_study) instead of running it once per suite.
test-all: $(STAMP)
	$(MAKE) test PYTEST_ARGS="-m '' $(PYTEST_ARGS)"

lint: $(STAMP)
	$(BIN)/snakemake --lint --configfile config/demo.yaml

clean:
	rm -rf results .snakemake
