"""Snakemake imports the library's workflow-facing modules on every parse (each dry run, each
`snakemake` call of a user). They must not pull in torch, transformers or lm-eval: those take
seconds to import on a small machine, which every command would pay."""
import re
import subprocess
import sys

from workflow_helpers import REPO

HEAVY = ("torch", "transformers", "lm_eval", "datasets", "peft", "accelerate", "pandas")


def probe(code: str) -> subprocess.CompletedProcess:
    """`code` run in a fresh interpreter, where nothing is imported yet."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)


def parse_time_modules() -> list[str]:
    """Every prunebench module a rule file imports at its top level, plus those its resource
    functions import when Snakemake sizes jobs (jobsize, param_count, hub)."""
    modules = {"prunebench.plan.jobsize", "prunebench.checkpoint.param_count", "prunebench.hub",
               "prunebench.checkpoint.architectures"}
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        for line in smk.read_text().splitlines():
            match = re.match(r"(?:from (prunebench[\w.]*) import|import (prunebench[\w.]*))", line)
            if match:
                modules.add(match.group(1) or match.group(2))
    return sorted(modules)


def test_rule_files_import_only_light_modules():
    modules = parse_time_modules()
    assert "prunebench.plan.variants" in modules  # the parser above found the rule files' imports
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = probe(code)
    assert out.stdout.strip() == "", f"importing {modules} pulled in: {out.stdout.strip()}"


def test_job_sizes_count_parameters_without_transformers(tmp_path):
    """A downloaded model's size comes from its config.json alone, and equals the exact count."""
    from prunebench import modeling
    from prunebench.plan import jobsize
    from prunebench.checkpoint.architectures import architecture_config

    config = architecture_config("llama-7b")
    config.save_pretrained(tmp_path)
    assert jobsize.model_billions(tmp_path, "hf:huggyllama/llama-7b") * 1e9 == \
        modeling.count_params(config) == 6_738_415_616


def test_job_sizes_of_random_architectures_need_no_transformers():
    from prunebench.plan import jobsize

    code = ("import sys; from prunebench.plan import jobsize; "
            "b = jobsize.model_billions('/nonexistent', 'random:llama-13b'); "
            "h = jobsize.model_billions('/nonexistent', 'hf:lmsys/vicuna-13b-v1.3'); "
            "print(b, h, 'transformers' in sys.modules or 'torch' in sys.modules)")
    out = probe(code)
    assert out.stdout.split() == [str(13_015_864_320 / 1e9)] * 2 + ["False"]
    assert jobsize.model_billions("/nonexistent", "random:llama-13b") == 13_015_864_320 / 1e9


def test_light_library_modules_load_without_the_model_code():
    """Jobs and helper processes that need no model skip transformers' modelling code, and the
    benchmark lock needs neither torch nor transformers: each import costs seconds per process."""
    code = ("import sys\n"
            "from prunebench.benchmark.interference import machine_lock\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
            "from prunebench.modeling import load_config, require_tokenizer\n"
            "print('transformers.modeling_utils' in sys.modules)\n")
    out = probe(code)
    assert out.stdout.split("\n")[:2] == ["", "False"], out.stdout
