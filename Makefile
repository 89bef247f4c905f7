# Two entry points: `make run` (set up, then run the embedded default) and `make test`.
# Both create ./.venv on first use and reuse it afterwards.
PYTHON ?= python3
VENV ?= .venv
# Machines without an NVIDIA driver get the CPU-friendly pinned build; GPU machines any torch 2.x.
TORCH_REQ ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 'torch>=2.4,<3' || echo 'torch==2.13.0')
CORES ?= all

.PHONY: setup run test test-fast clean

# uv installs everything, several times faster than pip (about 1 min instead of 3 on 2 cores).
# uv does not read pip's configuration, so a local wheel folder that pip is configured with
# (PIP_FIND_LINKS or pip.conf's find-links, e.g. a CPU build of torch) is passed on. Where uv
# cannot work (no PyPI, only a mirror pip knows), pip does.
#
# Bytecode: Python caches each module's compiled form on first import, unless
# PYTHONDONTWRITEBYTECODE is set (some machines set it globally): then every job would
# recompile transformers on import, seconds each. Make's commands run without it, so the first
# run caches what the jobs import (about 4,500 files, 20-30 s once). Compiling every installed
# file at set-up instead (uv's --compile-bytecode, pip's default) took 55 s on 2 cores, most of
# it for files no job imports (transformers has 2,900; a job imports 180 of them).
unexport PYTHONDONTWRITEBYTECODE
FIND_LINKS ?= $(or $(PIP_FIND_LINKS),$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null))

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python \
		$(addprefix --find-links ,$(FIND_LINKS)) '$(TORCH_REQ)' -e '.[test]' \
		|| $(VENV)/bin/pip install --quiet '$(TORCH_REQ)' -e '.[test]'
	touch $@

setup: $(VENV)/.installed

# The config check first: it names the line of a YAML syntax error, which Snakemake does not.
run: setup
	$(VENV)/bin/prunebench check-config config/config.yaml
	$(VENV)/bin/snakemake --cores $(CORES)

# The 10 slowest tests are listed. The shared end-to-end run starts in the background when the
# tests are collected (tests/conftest.py), so one process is enough to keep both cores busy.
PYTEST ?= $(VENV)/bin/pytest -q --durations=10

test: setup
	$(PYTEST)

# Without the end-to-end runs nothing runs in the background, so pytest-xdist spreads the tests
# over one process per core (the first to need the tiny test model trains it; the others wait).
test-fast: setup
	$(PYTEST) -m "not slow" -n auto --dist worksteal

clean:
	rm -rf results/* resources/* .snakemake logs
	git checkout -- results/README.md resources/README.md
