# Two entry points: `make run` (set up, then run the embedded default) and `make test`.
# Both create ./.venv on first use and reuse it afterwards.
PYTHON ?= python3
VENV ?= .venv
# Machines without an NVIDIA driver get the CPU-friendly pinned build; GPU machines any torch 2.x.
TORCH_REQ ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 'torch>=2.6,<3' || echo 'torch==2.13.0')
CORES ?= all

.PHONY: setup run test test-fast test-floor clean distclean

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
# ... through uv's own variable (a comma-separated list, after any the environment gives), not
# its command line: a location with credentials in its URL then shows neither in make's echo of
# the command nor in the process list. Only the installs get it (below), and pip's
# configuration is read only when one runs.
comma := ,
empty :=
space := $(empty) $(empty)
ENV_UV_FIND_LINKS := $(UV_FIND_LINKS)
UV_FIND_LINKS_FOR_INSTALL = $(subst $(space),$(comma),$(strip $(ENV_UV_FIND_LINKS) $(FIND_LINKS)))

# The oldest Python prunebench runs on (pyproject.toml's requires-python; Snakemake 8 and 9 need
# 3.11): an older one is refused here by name, before a venv is made that could not install.
PYTHON_FLOOR := $(or $(shell sed -n 's/^requires-python = ">=\([0-9.]*[0-9]\).*/\1/p' pyproject.toml),3.11)

$(VENV)/.installed: export UV_FIND_LINKS = $(UV_FIND_LINKS_FOR_INSTALL)
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; floor = tuple(map(int, "$(PYTHON_FLOOR)".split("."))); \
	sys.exit(None if sys.version_info[:2] >= floor else "prunebench needs Python $(PYTHON_FLOOR) \
	or newer (Snakemake needs it); $(PYTHON) is Python %d.%d: run make with PYTHON=<a newer \
	python3>, e.g. make test PYTHON=python3.12" % sys.version_info[:2])'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python \
		'$(TORCH_REQ)' -e '.[test]' \
		|| $(VENV)/bin/pip install --quiet '$(TORCH_REQ)' -e '.[test]'
	touch $@

setup: $(VENV)/.installed

# The config check first: it names the line of a YAML syntax error, which Snakemake does not.
run: setup
	$(VENV)/bin/prunebench check-config config/config.yaml
	$(VENV)/bin/snakemake --cores $(CORES)

# The 10 slowest tests are listed. pytest-xdist runs the tests in one process per core and one
# more, beside the two background processes that the tests share (the tiny test model's
# training and one end-to-end run; tests/conftest.py): one process alone left a core idle for
# minutes, and one per core still left a core idle while a test waits on its Snakemake run (the
# local executor's polling, the SLURM plugin's status checks, which lengthen by 10 s while no
# job ends): the extra worker fills it (2 cores: 940 s with two workers, 849 s with three).
# worksteal hands each worker a contiguous share of the tests in conftest's order (those that wait
# for a background result last), so a module's fixtures are mostly made once. At most 8 workers:
# each imports torch and holds about 1 GB at its peak.
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; cores = len(os.sched_getaffinity(0)) \
	if hasattr(os, "sched_getaffinity") else os.cpu_count(); print(min(8, cores + 1))')
PYTEST ?= $(VENV)/bin/pytest -q --durations=10 -n $(TEST_WORKERS) --dist worksteal

test: setup
	$(PYTEST)

# Without the end-to-end runs.
test-fast: setup
	$(PYTEST) -m "not slow"

# The oldest transformers pyproject.toml accepts (its floor: GPU images ship older releases than
# PyPI's newest), on the tests of what changes between transformers releases: every family's
# classes, its prunes and the compiled decoder against its generate, the benchmarks' runners
# (the hf backend is transformers' generate), multimodal checkpoints, tokenizers, zero-shot
# requests, and each family's own test file. In a venv of its own, so .venv keeps the newest
# release.
FLOOR_VENV ?= .venv-floor
TRANSFORMERS_FLOOR := $(shell sed -n 's/^ *"transformers>=\([0-9.]*\),.*/\1/p' pyproject.toml)
FLOOR_TESTS ?= tests/test_families.py tests/test_text_part.py tests/test_tokenizer_options.py \
	tests/test_depth_kinds.py tests/test_depth_mix.py \
	tests/test_bloom_mpt.py tests/test_dbrx.py tests/test_hyperclovax_minicpm3.py \
	tests/test_cohere_compass.py \
	tests/test_emu3.py \
	tests/test_zeroshot.py tests/test_param_counting.py tests/test_benchmark.py \
	tests/test_moe.py tests/test_olmo.py tests/test_seed_oss.py tests/test_ernie4_5.py \
	tests/test_ernie4_5_moe.py tests/test_cohere.py tests/test_hunyuan.py tests/test_stablelm.py \
	tests/test_phimoe.py tests/test_granitemoe.py tests/test_deepseek.py \
	tests/test_published_fp8.py \
	tests/test_deepseek_v2.py tests/test_glm4_moe.py tests/test_minimax_m2.py \
	tests/test_hunyuan_moe.py tests/test_llama4.py tests/test_qwen3_next.py \
	tests/test_ungated_mlp.py tests/test_nemotron.py tests/test_starcoder2_phi.py \
	tests/test_granitemoehybrid.py \
	tests/test_nanochat_jais2.py \
	tests/test_persimmon_gpt_neo.py \
	tests/test_gpt_neox_japanese.py \
	tests/test_xglm.py \
	tests/test_ctrl.py \
	tests/test_biogpt.py \
	tests/test_openai_gpt.py \
	tests/test_diffllama_bitnet.py \
	tests/test_codegen.py \
	tests/test_doge.py \
	tests/test_modernbert_decoder.py \
	tests/test_mimo_v2_flash.py tests/test_jetmoe.py tests/test_longcat_flash.py \
	tests/test_flint_kolibri1_minicpm5_moe.py tests/test_ergo.py \
	tests/test_kolibri1_1.py \
	tests/test_sarvam_moe_param2moe.py \
	tests/test_sarvam_mla.py \
	tests/test_dots3_note.py \
	tests/test_dory.py \
	tests/test_mistral4.py \
	tests/test_qwen3_5.py \
	tests/test_qwen4_exp.py \
	tests/test_apertus_ministral.py \
	tests/test_cwm_granite_swa.py \
	tests/test_nemotron_h.py \
	tests/test_gemma4.py \
	tests/test_gemma3n.py \
	tests/test_gemma4_unified.py \
	tests/test_phi4_multimodal.py \
	tests/test_fuyu.py \
	tests/test_mllama.py \
	tests/test_helium_vaultgemma_granitemoeshared.py \
	tests/test_gpt_neox.py \
	tests/test_opt.py \
	tests/test_dots1_flex_olmo.py tests/test_falcon.py tests/test_gptj.py \
	tests/test_bamba_falcon_h1.py tests/test_kimi_linear.py tests/test_minimax.py \
	tests/test_bailing_hybrid.py \
	tests/test_lara_mini.py \
	tests/test_zaya.py \
	tests/test_jamba.py \
	tests/test_lfm2.py tests/test_olmo_hybrid.py tests/test_gpt2.py tests/test_gpt_bigcode.py \
	tests/test_lfm3.py \
	tests/test_solar_cohere2moe_granitemoe_swa.py tests/test_aria_text.py \
	tests/test_afmoe_laguna_mellum.py \
	tests/test_hy_v3_deepseek_v32.py \
	tests/test_exaone_moe_glm4_moe_lite_youtu.py \
	tests/test_glm_moe_dsa.py tests/test_axk1.py \
	tests/test_hy_v4.py \
	tests/test_deepseek_v4.py \
	tests/test_axk2.py \
	tests/test_minimax_m3.py \
	tests/test_inkling.py \
	tests/test_inkling2.py \
	tests/test_beam.py \
	tests/test_mamba.py \
	tests/test_mamba2.py \
	tests/test_xlstm.py \
	tests/test_rwkv.py \
	tests/test_recurrent_gemma.py \
	tests/test_zamba.py tests/test_zamba2.py \
	tests/test_exaone_internlm3.py \
	tests/test_apertus1p5.py \
	tests/test_iquestcoder_gpt_sw3.py

$(FLOOR_VENV)/.installed: export UV_FIND_LINKS = $(UV_FIND_LINKS_FOR_INSTALL)
$(FLOOR_VENV)/.installed: pyproject.toml $(VENV)/.installed
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/pip install --quiet --disable-pip-version-check uv
	$(FLOOR_VENV)/bin/uv pip install --quiet --python $(FLOOR_VENV)/bin/python \
		'$(TORCH_REQ)' -e '.[test]' \
		'transformers==$(TRANSFORMERS_FLOOR)' \
		|| $(FLOOR_VENV)/bin/pip install --quiet '$(TORCH_REQ)' -e '.[test]' \
		'transformers==$(TRANSFORMERS_FLOOR)'
	touch $@

test-floor: $(FLOOR_VENV)/.installed
	@$(FLOOR_VENV)/bin/python -c 'import transformers; print("transformers", transformers.__version__)'
	$(FLOOR_VENV)/bin/pytest -q -n auto --maxprocesses 8 --dist worksteal \
		-m "not same_path_on_the_floor" $(FLOOR_TESTS)

# `clean` removes what runs made here (results, logs, Snakemake's records) but keeps resources/:
# the downloaded models (a 13B model is 26 GB), calibration and evaluation data, and the
# zero-shot answers and calibration losses that interrupted jobs resume from (LoRA's and a
# benchmark's progress lie beside their results and go with them). `distclean` removes
# resources/ too. Neither touches runs/ (runs in directories of their own).
clean:
	rm -rf results/* .snakemake logs
	git checkout -- results/README.md

distclean: clean
	rm -rf resources/*
	git checkout -- resources/README.md
