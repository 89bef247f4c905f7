"""The code identity in every provenance block: which code made a result, with or without git."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prunebench import provenance

HEX64 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture
def package_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the prunebench package, as a checkout holds it (src/prunebench), in no git
    work tree: git searches no higher than tmp_path."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GIT_DIR", "GIT_WORK_TREE"):  # would point git at another repository
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "checkout" / "src" / "prunebench"
    shutil.copytree(provenance.PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_provenance_names_the_code(monkeypatch):
    """The code block is the package's files' hash and its checkout's git state, each computed
    here on its own (what they are in and out of git checkouts: tested below). The identity is
    computed afresh, not taken from the process's cache, which may predate a commit made while
    the tests ran."""
    before = provenance.git_state(provenance.PACKAGE_DIR)
    monkeypatch.setattr(provenance, "code_identity", provenance.code_identity.__wrapped__)
    code = provenance.provenance()["code"]
    assert set(code) == {"commit", "dirty", "hash"}
    assert HEX64.fullmatch(code["hash"])
    assert code["hash"] == provenance.code_hash(provenance.PACKAGE_DIR)
    assert (code["commit"], code["dirty"]) in (before, provenance.git_state(provenance.PACKAGE_DIR))


def test_results_record_the_tokenizer_and_hub_libraries_beside_the_main_packages():
    """Tokenization decides calibration windows and perplexity streams: a result names the
    tokenizers and sentencepiece that made it. The versions that name saved progress (resumed
    benchmark sweeps, LoRA runs) stay the main packages', so no save made before is orphaned."""
    from importlib import metadata

    versions = provenance.provenance()["versions"]
    for name in ("tokenizers", "sentencepiece", "huggingface_hub", "numpy"):
        assert versions[name] == metadata.version(name.replace("_", "-")), name
    assert set(provenance.package_versions()) == set(provenance.PACKAGES)
    assert {k: versions[k] for k in provenance.PACKAGES} == provenance.package_versions()


def test_a_run_from_this_checkout_names_its_commit():
    """Run from a git checkout of this repository (a developer's, CI's clone), the code is
    named by the commit checked out, with whether src/ or workflow/ has changed since."""
    repo = Path(__file__).resolve().parents[1]
    if provenance.PACKAGE_DIR != repo / "src" / "prunebench" or not (repo / ".git").exists():
        pytest.skip("prunebench is not imported from a git checkout of this repository")

    def head() -> str | None:
        try:
            out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                                 text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    before = head()
    if before is None:
        pytest.skip("git cannot read this checkout here")
    commit, dirty = provenance.git_state()
    assert commit in (before, head())  # (a commit made meanwhile: the newer one)
    assert re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit)
    assert isinstance(dirty, bool)


def test_an_uninstalled_checkout_records_the_packages_own_version(monkeypatch):
    """On the GPU machine prunebench ran from src/ on PYTHONPATH, not installed, and its
    version was recorded as null; the other packages' stay null when absent."""
    import prunebench

    real = provenance.metadata.version

    def not_installed(name):
        if name in ("prunebench", "lm-eval"):
            raise provenance.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(provenance.metadata, "version", not_installed)
    # (installed_version reads each package once a process: here uncached, through the fake)
    monkeypatch.setattr(provenance, "installed_version", provenance.installed_version.__wrapped__)
    versions = provenance.package_versions()
    assert versions["prunebench"] == prunebench.__version__
    assert versions["lm_eval"] is None


def test_the_code_hash_changes_with_any_package_file(package_copy):
    before = provenance.code_hash(package_copy)
    assert before == provenance.code_hash(package_copy)  # a function of the files alone
    module = package_copy / "report" / "tables.py"
    module.write_text(module.read_text() + "\n# an edit\n")
    edited = provenance.code_hash(package_copy)
    assert HEX64.fullmatch(edited) and edited != before
    (package_copy / "report" / "tables.py").rename(package_copy / "report" / "tables2.py")
    assert provenance.code_hash(package_copy) != edited  # a file's name is part of the code


def test_the_code_identity_is_computed_once_per_process(package_copy):
    first = provenance.code_identity(package_copy)
    (package_copy / "new_module.py").write_text("X = 1\n")
    assert provenance.code_identity(package_copy) == first
    assert provenance.code_hash(package_copy) != first["hash"]


def test_without_git_only_the_hash_is_known(package_copy):
    # A wheel's install, or a copy outside any checkout: no commit, no dirty flag, a hash.
    assert provenance.git_state(package_copy) == (None, None)
    assert provenance.code_identity(package_copy)["commit"] is None


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_checkouts_commit_and_uncommitted_changes(package_copy):
    checkout = package_copy.parents[1]

    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t",
                               "-c", "commit.gpgsign=false", *args], cwd=checkout, check=True,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (checkout / "workflow").mkdir()
    (checkout / "workflow" / "Snakefile").write_text("rule all:\n")
    (checkout / "notes.txt").write_text("outside src/ and workflow/\n")
    git("add", "src", "workflow")
    git("commit", "-q", "-m", "x")
    head = git("rev-parse", "HEAD")
    # notes.txt is untracked, but outside src/ and workflow/: the code is as committed
    assert provenance.git_state(package_copy) == (head, False)
    (checkout / "workflow" / "Snakefile").write_text("rule all:\n    input: []\n")
    assert provenance.git_state(package_copy) == (head, True)
    git("checkout", "--", "workflow")
    (package_copy / "new_module.py").write_text("X = 1\n")  # untracked, but code
    assert provenance.git_state(package_copy) == (head, True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_package_copy_elsewhere_in_a_work_tree_is_not_its_code(package_copy):
    # e.g. a non-editable install into a venv inside the checkout: HEAD is not what it runs
    outer = package_copy.parents[2] / "outer"
    venv_copy = outer / ".venv" / "lib" / "prunebench"
    shutil.copytree(package_copy, venv_copy)
    (outer / "README.md").write_text("a checkout\n")
    for args in (["init", "-q"], ["add", "README.md"], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t",
                        "-c", "commit.gpgsign=false", *args], cwd=outer, check=True)
    assert provenance.git_state(venv_copy) == (None, None)


@pytest.mark.parametrize("text, expected", [
    ("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC  7B13 64-Core\n",
     "AMD EPYC 7B13 64-Core"),
    ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n",
     "Intel(R) Xeon(R) Platinum 8480+"),
    ("processor\t: 0\nBogoMIPS\t: 50.00\nCPU part\t: 0xd0c\n", None),  # an ARM board
])
def test_the_cpu_model_is_read_from_cpuinfo(tmp_path, monkeypatch, text, expected):
    from prunebench import provenance

    monkeypatch.setattr(provenance.platform, "system", lambda: "Linux")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)
    assert provenance.cpu_model(cpuinfo) == expected
    assert provenance.cpu_model(tmp_path / "absent") is None


def test_a_result_made_in_a_slurm_job_names_it(monkeypatch):
    for variable in provenance.SLURM_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    assert provenance.provenance()["slurm"] is None  # not in a SLURM job
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_JOB_PARTITION", "gpu")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")  # requeued once
    monkeypatch.setenv("SLURM_CLUSTER_NAME", "")    # set but empty: left out
    assert provenance.provenance()["slurm"] == {"job_id": "4242", "partition": "gpu",
                                                "restart_count": "1"}
    # only the job's id says it is a SLURM job
    assert provenance.slurm_job({"SLURM_JOB_PARTITION": "gpu"}) is None


def test_a_requeued_jobs_restart_count_is_asked_of_scontrol_where_its_step_lacks_it(
        tmp_path, monkeypatch):
    """Snakemake's SLURM job step drops SLURM_RESTART_COUNT from the rule's environment:
    `scontrol show job` says it then; where scontrol is missing, fails or hangs, it is left
    out and the rest of the record stands."""
    from workflow_helpers import require_executable_folder

    require_executable_folder(tmp_path)
    scontrol = tmp_path / "scontrol"
    scontrol.write_text('#!/bin/sh\n[ "$1 $2 $3" = "show job 77" ] || exit 1\n'
                        'echo "JobId=77 JobName=bench"\n'
                        'echo "   Requeue=1 Restarts=2 BatchFlag=1 Reboot=0 ExitCode=0:0"\n')
    scontrol.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    provenance._scontrol_restart_count.cache_clear()
    assert provenance.slurm_job({"SLURM_JOB_ID": "77"}) == {"job_id": "77",
                                                              "restart_count": "2"}
    assert provenance.slurm_job({"SLURM_JOB_ID": "78"}) == {"job_id": "78"}  # it failed
    # the step's own variable, where set, is taken as it is
    assert provenance.slurm_job({"SLURM_JOB_ID": "79", "SLURM_RESTART_COUNT": "3"})[
        "restart_count"] == "3"
    # A controller that answers only after 30 s: taken were the timeout not kept (a slow test,
    # not a failed one, had the answer been nothing). One process, so the kill ends it.
    late = "import time; time.sleep(30); print('   Requeue=1 Restarts=5 BatchFlag=1')"
    scontrol.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -c {shlex.quote(late)}\n")
    monkeypatch.setattr(provenance, "SCONTROL_TIMEOUT_S", 0.5)
    assert provenance.slurm_job({"SLURM_JOB_ID": "80"}) == {"job_id": "80"}
    scontrol.unlink()  # no scontrol on this node
    assert provenance.slurm_job({"SLURM_JOB_ID": "81"}) == {"job_id": "81"}
    provenance._scontrol_restart_count.cache_clear()


def test_a_result_says_how_many_cpus_its_process_could_use(monkeypatch):
    record = provenance.provenance()
    if hasattr(provenance.os, "sched_getaffinity"):  # Linux; elsewhere it is not known: None
        assert record["usable_cpus"] == len(provenance.os.sched_getaffinity(0)) >= 1
    monkeypatch.setattr(provenance.os, "sched_getaffinity", lambda _pid: {0, 3}, raising=False)
    assert provenance.provenance()["usable_cpus"] == 2  # an allocation of 2 of the machine's
