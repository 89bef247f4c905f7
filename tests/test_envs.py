"""The conda environment and pyproject.toml pin the same dependency ranges."""
import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def name_of(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_env_file_pins_agree_with_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((REPO / "workflow" / "envs" / "prunebench.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    env_pins = {name_of(r): r.replace(" ", "") for r in pip if not r.startswith("-e")}
    # snakemake runs the workflow; it is not needed inside the jobs' environment.
    project_pins = {name_of(r): r.replace(" ", "") for r in project if name_of(r) != "snakemake"}
    assert env_pins == project_pins


def test_every_rule_that_runs_code_names_the_environment():
    for rules in (REPO / "workflow" / "rules").glob("*.smk"):
        text = rules.read_text()
        assert text.count("    script:") == text.count('conda:\n        "../envs/prunebench.yaml"'), rules


def test_env_file_installs_the_library_from_this_checkout():
    """conda's pip reads `-e <path>` relative to the env file: it must reach the repository root."""
    env_file = REPO / "workflow" / "envs" / "prunebench.yaml"
    env = yaml.safe_load(env_file.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    editable = [r.split(None, 1)[1] for r in pip if r.startswith("-e")]
    assert len(editable) == 1
    assert (env_file.parent / editable[0]).resolve() == REPO
    assert (REPO / "pyproject.toml").exists()
