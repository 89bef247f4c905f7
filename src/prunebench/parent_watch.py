"""A workflow job stops when the process that started it (Snakemake) goes away.

Snakemake runs each job as its own child process. When Snakemake alone is killed (`kill -9`, or
a SIGINT sent to its pid rather than to the terminal's process group), the job would run on as an
orphan: a prune job would finish and write outputs that the next run marks incomplete and redoes,
and a benchmark would time itself beside the rerun's jobs. A daemon thread notices that the job
was re-parented (its parent pid changed) and interrupts the main thread, so the job stops the
way Ctrl-C stops it: atomic writers drop their temporary files and nothing is written. If the
main thread does not return to Python within a grace period (a long native call), the process
exits outright; what it left is a hidden temporary that the next attempt removes.
"""

from __future__ import annotations

import _thread
import logging
import os
import signal
import threading
import time

log = logging.getLogger(__name__)


def watch_parent(interval: float = 2.0, grace: float = 60.0) -> threading.Thread | None:
    """Start watching; returns the thread, or None when there is no parent to watch."""
    parent = os.getppid()
    if parent <= 1:  # started by init (or already orphaned): nothing would tell us apart
        return None
    # interrupt_main() does nothing while SIGINT is ignored, as it is in every process started
    # from a background job of a non-interactive shell (`snakemake ... &` in a script). Such a
    # job must still stop the Ctrl-C way once orphaned, yet keep ignoring a Ctrl-C typed at the
    # terminal (Snakemake ignores it too, and runs on): a handler that interrupts only once the
    # parent is gone. Only the main thread may set it; the jobs call this from there.
    orphaned = threading.Event()
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        def interrupt_once_orphaned(signum, frame):
            if orphaned.is_set():
                raise KeyboardInterrupt

        signal.signal(signal.SIGINT, interrupt_once_orphaned)

    def run() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        log.error("the process that started this job (pid %d, Snakemake) is gone: stopping the "
                  "job without writing its outputs; rerun the workflow to redo it", parent)
        orphaned.set()
        _thread.interrupt_main()
        time.sleep(grace)
        os._exit(1)

    thread = threading.Thread(target=run, name="parent-watch", daemon=True)
    thread.start()
    return thread
