# Two entry points: `make run` (set up, then run the embedded default) and `make test`.
# Both create ./.venv on first use and reuse it afterwards.
PYTHON ?= python3
VENV ?= .venv
# Machines without an NVIDIA driver get the CPU-friendly pinned build; GPU machines any torch 2.x.
TORCH_REQ ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 'torch>=2.4,<3' || echo 'torch==2.13.0')
CORES ?= all

.PHONY: setup run test test-fast clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet '$(TORCH_REQ)'
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed

run: setup
	$(VENV)/bin/snakemake --cores $(CORES)

test: setup
	$(VENV)/bin/pytest -q

test-fast: setup
	$(VENV)/bin/pytest -q -m "not slow"

clean:
	rm -rf results/* resources/* .snakemake logs
	git checkout -- results/README.md resources/README.md
