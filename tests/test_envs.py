"""The conda environment and pyproject.toml pin the same dependency ranges."""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from workflow_helpers import require_executable_folder

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


def python_floor() -> str:
    """pyproject.toml's requires-python, '>=3.11' -> '3.11' (the one bound the project sets)."""
    spec = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert re.fullmatch(r">=\d+\.\d+", spec), spec
    return spec[2:]


def test_python_floor_is_the_same_for_the_jobs_environment():
    env = yaml.safe_load((REPO / "workflow" / "envs" / "prunebench.yaml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert f">={python_floor()}," in python, python


def fake_python(folder: Path, version: tuple[int, int]) -> Path:
    """A python3 that make's version guard sees as `version` (sys.version_info replaced before
    the guard's code runs); anything else it is asked to do (`-m venv`) it notes and fails."""
    require_executable_folder(folder)
    fake = folder / f"python{version[0]}.{version[1]}"
    fake.write_text("#!/bin/sh\n"
                    'if [ "$1" != "-c" ]; then echo "$@" >> "$0.calls"; exit 3; fi\n'
                    f'exec "{sys.executable}" -c "import sys; '
                    f"sys.version_info = ({version[0]}, {version[1]}, 0, 'final', 0)\n$2\"\n")
    fake.chmod(0o755)
    return fake


def venv_calls(fake: Path) -> str:
    """What the fake python was asked beyond the guard (make may also ask pip's config first)."""
    calls = fake.with_name(fake.name + ".calls")
    return calls.read_text() if calls.exists() else ""


def make_setup(python: Path, venv: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-C", str(REPO), "setup", f"PYTHON={python}", f"VENV={venv}"],
                          capture_output=True, text=True, timeout=60)


def test_make_refuses_a_python_older_than_the_floor_by_name(tmp_path):
    """A Python below requires-python is named before any venv is made (uv or pip would only
    say that no snakemake version fits)."""
    major, minor = map(int, python_floor().split("."))
    fake = fake_python(tmp_path, (major, minor - 1))
    done = make_setup(fake, tmp_path / "venv")
    assert done.returncode != 0
    assert f"needs Python {python_floor()} or newer" in done.stderr
    assert f"is Python {major}.{minor - 1}" in done.stderr
    assert "-m venv" not in venv_calls(fake)


def test_make_goes_on_with_a_python_at_the_floor(tmp_path):
    fake = fake_python(tmp_path, tuple(map(int, python_floor().split("."))))
    done = make_setup(fake, tmp_path / "venv")
    assert "needs Python" not in done.stderr
    assert "-m venv" in venv_calls(fake)


def test_make_clean_keeps_resources_and_distclean_removes_them(tmp_path):
    """`make clean` removes what runs made; downloads, data and resumable progress in
    resources/ go only with `make distclean`."""
    for part in ("Makefile", "results/README.md", "resources/README.md", "pyproject.toml"):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / part).write_bytes((REPO / part).read_bytes())
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    made = ["results/tables/summary.md", "logs/a.log", ".snakemake/metadata/x",
            "resources/models/llama-7b/model.safetensors",
            "resources/cache/zeroshot-progress/p", "runs/paper/results/tables/summary.md"]
    for part in made:
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / part).write_text("x")

    def make(target):
        subprocess.run(["make", "-C", str(tmp_path), target], check=True, capture_output=True,
                       timeout=60)
        return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                      if p.is_file() and ".git" not in p.parts)

    assert make("clean") == ["Makefile", "pyproject.toml", "resources/README.md",
                             "resources/cache/zeroshot-progress/p",
                             "resources/models/llama-7b/model.safetensors", "results/README.md",
                             "runs/paper/results/tables/summary.md"]
    assert make("distclean") == ["Makefile", "pyproject.toml", "resources/README.md",
                                 "results/README.md", "runs/paper/results/tables/summary.md"]


def test_make_passes_pips_wheel_locations_to_uv_out_of_sight(tmp_path):
    """pip's find-links reach uv through UV_FIND_LINKS (comma-separated, after the
    environment's own), never on a command line that make echoes: a location's URL may carry
    credentials."""
    secret = "https://user:token@wheels.example/simple"
    probe = tmp_path / "probe.mk"
    probe.write_text(f"include {REPO / 'Makefile'}\n"
                     "install-probe: export UV_FIND_LINKS = $(UV_FIND_LINKS_FOR_INSTALL)\n"
                     "install-probe:\n\t@echo \"[$$UV_FIND_LINKS]\"\n"
                     "other-probe:\n\t@echo \"[$$UV_FIND_LINKS]\"\n")

    def make(*args, **env):
        return subprocess.run(["make", "-s", "-C", str(REPO), *args], capture_output=True,
                              text=True, env={"PATH": "/usr/bin:/bin", **env}, check=True)

    given = make("-f", str(probe), "install-probe", PIP_FIND_LINKS=f"/opt/wheels {secret}",
                 UV_FIND_LINKS="/mine")
    assert given.stdout.strip() == f"[/mine,/opt/wheels,{secret}]"
    # the installs' alone: no other recipe (tests, a run) has the location in its environment
    other = make("-f", str(probe), "other-probe", PIP_FIND_LINKS=secret)
    assert other.stdout.strip() == "[]"
    assert "$(VENV)/.installed: export UV_FIND_LINKS = $(UV_FIND_LINKS_FOR_INSTALL)" in \
        (REPO / "Makefile").read_text()
    echoed = make("-n", "setup", f"VENV={tmp_path / 'venv'}", PIP_FIND_LINKS=secret)
    assert "uv pip install" in echoed.stdout and "token" not in echoed.stdout
