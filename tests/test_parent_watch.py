"""A workflow job stops when Snakemake, its parent, is killed (prunebench.parent_watch)."""
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

# The job: watches its parent, then works until interrupted, and records how it ended.
JOB = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    from prunebench.parent_watch import watch_parent
    out = Path(sys.argv[1])
    # Says that the signals sent before it were handled (Python runs pending handlers in
    # signal-number order: SIGINT's, 2, before SIGUSR1's).
    signal.signal(signal.SIGUSR1, lambda *_: (out / "signals-handled").touch())
    watch_parent(interval=0.1, grace=30)
    (out / "started").write_text(str(os.getpid()))
    try:
        while True:
            time.sleep(0.05)
    except KeyboardInterrupt:
        (out / "interrupted").touch()  # where atomic writers drop their temporaries
""")
# Its parent, standing in for Snakemake: starts the job and waits.
PARENT = textwrap.dedent("""
    import subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
    time.sleep(600)
""")


def _wait_for(*paths, timeout=60.0) -> bool:
    """Whether one of `paths` appears within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(path.exists() for path in paths):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sigint", ["handled", "ignored"])
def test_a_job_is_interrupted_when_its_parent_is_killed(tmp_path, sigint):
    """`ignored`: as in a background job of a non-interactive shell (`snakemake ... &` in a
    script), whose processes inherit SIGINT ignored; the job used to run on until the grace
    period ended it without its clean-up."""
    def ignore_sigint():
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    parent = subprocess.Popen([sys.executable, "-c", PARENT, JOB, str(tmp_path)],
                              preexec_fn=ignore_sigint if sigint == "ignored" else None)
    try:
        assert _wait_for(tmp_path / "started"), "the job did not start"
        if sigint == "ignored":  # a Ctrl-C at the terminal: ignored while Snakemake runs on
            while not (tmp_path / "started").read_text():
                time.sleep(0.05)
            job = int((tmp_path / "started").read_text())
            os.kill(job, signal.SIGINT)
            with contextlib.suppress(ProcessLookupError):  # ended by the SIGINT: failed below
                os.kill(job, signal.SIGUSR1)
            assert _wait_for(tmp_path / "signals-handled", tmp_path / "interrupted"), \
                "the job handled no signal"
        assert not (tmp_path / "interrupted").exists()  # alive while its parent is
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert _wait_for(tmp_path / "interrupted"), "the orphaned job kept running"
    finally:
        parent.kill()


def test_no_watch_without_a_parent_to_watch(monkeypatch):
    from prunebench import parent_watch

    monkeypatch.setattr(parent_watch.os, "getppid", lambda: 1)
    assert parent_watch.watch_parent() is None
