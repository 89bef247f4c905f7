"""The static checks of .ci/run: `snakemake --lint` and `snakefmt --check` pass on the workflow,
and fail (non-zero exit) on the mistakes they exist to catch, so CI stops before the tests."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_helpers import REPO, copy_workflow, run_snakemake

LINT_WARNING = "Lints for"  # the heading Snakemake prints above each file's or rule's findings
MIXED = "Mixed rules and functions in same snakefile"


def lint(workdir: Path) -> subprocess.CompletedProcess:
    return run_snakemake(workdir, "--lint", configfile="config/config.yaml", check=False,
                         timeout=300)


def test_workflow_lints_clean(tmp_path):
    proc = lint(copy_workflow(tmp_path))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert LINT_WARNING not in output, output[-4000:]


def test_a_function_beside_rules_fails_the_lint(tmp_path):
    """A rule file with a function in it (instead of common.smk) is what the linter flags; the
    exit code is what stops .ci/run (set -e), so it must be non-zero."""
    workdir = copy_workflow(tmp_path)
    rules = workdir / "workflow" / "rules" / "models.smk"
    rules.write_text(rules.read_text()
                     + "\n\ndef misplaced_input(wildcards):\n    return []\n")
    proc = lint(workdir)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-4000:]
    assert MIXED in output and "models.smk" in output, output[-4000:]


def test_only_common_smk_defines_functions():
    """The same rule, stated directly: input functions and helpers live in common.smk."""
    offenders = [f"{smk.name}:{n}" for smk in (REPO / "workflow" / "rules").glob("*.smk")
                 if smk.name != "common.smk"
                 for n, line in enumerate(smk.read_text().splitlines(), 1)
                 if re.match(r"\s*def ", line)]
    assert not offenders, f"move these functions to workflow/rules/common.smk: {offenders}"


def test_snakefmt_check_passes_and_catches_a_misformatted_rule(tmp_path):
    pytest.importorskip("snakefmt")
    snakefmt = [sys.executable, "-m", "snakefmt", "--config", str(REPO / "pyproject.toml")]
    clean = subprocess.run([*snakefmt, "--check", str(REPO / "workflow")], capture_output=True,
                           text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr[-4000:]

    rules = tmp_path / "prune.smk"
    # The directives out of snakefmt's order (log before output) and an odd indent.
    rules.write_text("rule x:\n    log:\n        'x.log'\n    output:\n          'x'\n"
                     "    shell:\n        'touch {output}'\n")
    bad = subprocess.run([*snakefmt, "--check", str(rules)], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 1, bad.stderr[-4000:]


def test_ci_runs_the_static_checks_before_the_tests():
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert "set -euo pipefail" in lines  # a failing check stops the script

    def position(fragment):
        found = [i for i, line in enumerate(lines)
                 if fragment in line and not line.startswith("#")]
        assert found, f".ci/run does not run {fragment!r}"
        return found[0]

    tests = position("make test")
    for check in ("ruff check", "snakefmt --check", "snakemake --lint"):
        assert position("make setup") < position(check) < tests, check


# Where results and prepared inputs live is written once, in prunebench.plan.layout; a second
# copy of a path in a rule file or a library module is how a renamed file goes half-renamed.
RESULT_ROOTS = ("results/pruned", "results/bench", "results/eval", "results/tables",
                "results/figures", "resources/models", "resources/data", "resources/cache")


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a Python file, docstrings left out. A path is a literal that
    starts with one of the roots; messages that name a file mid-sentence are not counted."""
    import ast

    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_result_paths_are_written_once_in_the_layout_module():
    layout = REPO / "src" / "prunebench" / "plan" / "layout.py"
    offenders = []
    for path in sorted((REPO / "src" / "prunebench").rglob("*.py")):
        if path == layout:
            continue
        offenders += [f"{path.relative_to(REPO)}:{line}: {text!r}"
                      for line, text in _string_literals(path)
                      if text.startswith(RESULT_ROOTS)]
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if re.search(r"[\"'](?:" + "|".join(RESULT_ROOTS) + ")", code):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, ("paths written outside prunebench.plan.layout (use its patterns):\n"
                           + "\n".join(offenders))


def test_the_layout_patterns_fill_as_the_rules_name_files():
    from prunebench.plan import layout

    assert layout.fill(layout.PRUNE_REPORT, variant="dense") == \
        "results/pruned/{model}/dense/prune_report.json"
    assert layout.BENCH.format(model="m", variant="v", backend="hf", lin=12, lout=128) == \
        "results/bench/m/v/hf/12x128.json"
