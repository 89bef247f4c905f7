"""What the commands take from the workflow, so that their files match a workflow cell's: its
defaults and allowed values, read from the config schema (workflow/schemas/config.schema.yaml,
where each is written once), and its embedded text, made with its default seed.

A command departs from a workflow default only in this module, named and with its reason (and
as an exception in tests/test_single_checkpoint.py, which checks every command default against
the schema file). Today none departs: even the schema's adaptive repeats (at most 50 runs or
30 s per batch size) keep an interactive `prunebench bench` short enough.
"""

from __future__ import annotations

from pathlib import Path

from prunebench.plan.config_files import schema_defaults, schema_enum

EMBEDDED_SEED = schema_defaults("embedded")["seed"]
DEVICE = schema_defaults("")["device"]

PPL_DEFAULTS = schema_defaults("evaluation.perplexity")
# `suite` is a section of its own below: it shapes the offline tasks, not lm-eval's settings.
ZEROSHOT_DEFAULTS = {k: v for k, v in schema_defaults("evaluation.zeroshot").items()
                     if k != "suite"}
SUITE_DEFAULTS = schema_defaults("evaluation.zeroshot.suite")

_bench = schema_defaults("benchmark")
# The workflow times each backend of its `backends` list; a command times one, by default the
# list's first.
BENCH_BACKEND = _bench.pop("backends")[0]
BENCH_DEFAULTS = _bench

BENCH_BACKENDS = schema_enum("benchmark.backends")
BENCH_DTYPES = schema_enum("benchmark.dtype")
ATTENTIONS = schema_enum("benchmark.attention")
COMPILE_MODES = schema_enum("benchmark.compile_mode")
BOS_MODES = schema_enum("evaluation.perplexity.bos")
EVAL_DTYPES = schema_enum("evaluation.perplexity.dtype")

# LoRA recovery: the study's settings (the schema's `lora` defaults; `target_modules`, which
# the schema leaves to prunebench.plan.lora_settings, defaults to all seven projections there).
LORA_DEFAULTS = schema_defaults("lora")
LORA_DATA_DEFAULTS = schema_defaults("lora.data")
INSTRUCTION_SOURCES = schema_enum("lora.data.source")
LORA_TEMPLATES = schema_enum("lora.template")


def embedded_text(folder: Path) -> Path:
    """The embedded text (train / validation / test) as the workflow's embedded_text rule makes
    it with its default seed: pure Python, seeded, the same on every machine."""
    from prunebench.corpus import write_corpus

    write_corpus(folder, seed=EMBEDDED_SEED)
    return folder
