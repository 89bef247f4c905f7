"""Benchmarks never time at once (a machine-wide OS lock), and other work is measured
(prunebench.benchmark.interference)."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from prunebench.benchmark.interference import (OTHER_CPU_CORES_LIMIT, CompetitionMeter, competing,
                                               machine_lock)

# Holds the lock until killed; says when it has it.
HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from prunebench.benchmark.interference import machine_lock
    with machine_lock(Path(sys.argv[1])):
        print("locked", flush=True)
        time.sleep(600)
""")


def _try_lock(path) -> bool:
    """Whether the lock can be taken right now (without waiting)."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_the_lock_excludes_others_and_dies_with_its_holder(tmp_path):
    path = tmp_path / "bench.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert not _try_lock(path)
        assert path.read_text().strip() == str(holder.pid)  # who holds it, for the waiting log
        os.kill(holder.pid, signal.SIGKILL)  # no cleanup runs: the kernel releases the lock
        holder.wait()
        assert _try_lock(path)
    finally:
        holder.kill()


def test_a_second_benchmark_waits_for_the_first(tmp_path, monkeypatch):
    import fcntl
    import threading

    path = tmp_path / "bench.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE,
                              text=True)
    entered, blocked = threading.Event(), threading.Event()
    real_flock = fcntl.flock

    def flock(fd, operation):
        # A waiting attempt (no LOCK_NB) on the lock file: the kernel holds it there until the
        # holder lets go, so once it is seen the second cannot have entered before the kill.
        if operation & fcntl.LOCK_EX and not operation & fcntl.LOCK_NB \
                and os.fstat(fd).st_ino == os.stat(path).st_ino:
            blocked.set()
        return real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)

    def second():
        with machine_lock(path):
            entered.set()

    try:
        assert holder.stdout.readline().strip() == "locked"
        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        assert blocked.wait(60)  # it waits for the lock the first holds
        assert not entered.is_set() and holder.poll() is None
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        assert entered.wait(60)  # and goes on as soon as it is released
        thread.join(60)
    finally:
        holder.kill()


def test_the_lock_is_released_when_the_block_ends(tmp_path):
    path = tmp_path / "bench.lock"
    with machine_lock(path):
        assert not _try_lock(path)
    assert _try_lock(path)
    with pytest.raises(RuntimeError):  # also when the benchmark fails
        with machine_lock(path):
            raise RuntimeError
    assert _try_lock(path)


def test_the_lock_is_never_taken_through_a_link_in_the_shared_folder(tmp_path):
    """The lock lies in a folder every user writes (/tmp): another user's symbolic or hard
    link at its name had this benchmark write its pid over the link's target."""
    from prunebench import ResourceError

    target = tmp_path / "someone-elses-file"
    target.write_text("precious\n")
    for link in (os.symlink, os.link):
        path = tmp_path / f"bench-{link.__name__}.lock"
        link(target, path)
        with pytest.raises(ResourceError, match="is a link or not a plain file.*"
                                                "PRUNEBENCH_LOCK_DIR"):
            with machine_lock(path):
                pass
        assert target.read_text() == "precious\n"


def test_another_users_lock_file_is_locked_without_writing_to_it(tmp_path, monkeypatch):
    """The first user's lock file is theirs (mode 0644): a second user's benchmark failed
    opening it for writing. It locks it read-only, and writes only into its own."""
    import prunebench.atomic as atomic

    path = tmp_path / "bench.lock"
    path.write_text("4242\n")
    real_open = os.open

    def as_another_user(file, flags, *args):
        if os.fspath(file) == os.fspath(path) and flags & (os.O_RDWR | os.O_WRONLY):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, flags, *args)

    monkeypatch.setattr(atomic.os, "open", as_another_user)  # (os's own open: everyone's)
    with machine_lock(path):
        monkeypatch.undo()
        assert not _try_lock(path)
    assert path.read_text() == "4242\n"


def test_a_lock_file_of_another_owner_is_not_written_where_this_user_could(tmp_path,
                                                                          monkeypatch):
    """A file of another owner that this user could write (as root, or through a group) is
    locked without being written either; this user's own is signed with its pid. The other
    owner is faked, so that the check runs without root: the file stays writable, and this
    process's uid is seen as another's than the file's."""
    import prunebench.atomic as atomic

    path = tmp_path / "bench.lock"
    path.write_text("4242\n")
    uid = os.getuid()
    with monkeypatch.context() as patch:
        patch.setattr(atomic.os, "getuid", lambda: uid + 1)  # (os's own: everyone's)
        with machine_lock(path):
            assert not _try_lock(path)
    assert path.read_text() == "4242\n"
    own = tmp_path / "own.lock"
    with machine_lock(own):
        assert own.read_text() == f"{os.getpid()}\n"


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="CPU accounting needs /proc/stat")
def test_other_cpu_work_during_a_row_is_measured():
    import resource
    import time

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    machine_before, children_before = _machine_busy(), children_cpu()
    wall = time.perf_counter()
    meter = CompetitionMeter("cpu")
    meter.start()
    # another process keeps a core busy for a second while this one only waits
    subprocess.run([sys.executable, "-c",
                    "import time\nend = time.time() + 1.0\nwhile time.time() < end: pass"])
    record = meter.stop()
    wall = time.perf_counter() - wall  # spans the meter's window
    burner = children_cpu() - children_before  # the CPU time the busy loop got (reaped by now)
    # Some sandboxes show frozen or zeroed /proc/stat counters: there, nothing can be measured.
    # (Read here, not through the library, so a library that reads nothing is not skipped.)
    if _machine_busy() - machine_before < 0.5 * burner:
        pytest.skip(f"/proc/stat did not count the busy loop's {burner:.2f} CPU seconds")
    # At least its busy loop (more if the machine is busy). Relative to the CPU time the loop
    # got, not one core: under a CPU quota it gets less than a core for its second.
    assert record["other_cpu_cores"] >= 0.4 * burner / wall
    # Flagged by the library's rule: beyond the limit plus what the ticks can show by themselves
    # (which grows with the CPU count: the threshold itself is tried with fixed numbers below).
    assert record["competition"] is (
        record["other_cpu_cores"] > OTHER_CPU_CORES_LIMIT + record["other_cpu_cores_resolution"])


def _machine_busy() -> float:
    """CPU seconds the machine has been busy since boot: /proc/stat's first line, all but idle
    and iowait."""
    ticks = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def test_one_lock_per_cpu_machine_and_per_gpu(monkeypatch, tmp_path):
    from prunebench.benchmark import interference

    monkeypatch.setenv("PRUNEBENCH_LOCK_DIR", str(tmp_path))
    assert interference.lock_path("cpu") == tmp_path / "prunebench-benchmark-cpu.lock"
    assert interference.device_key("cpu") == "cpu"


def test_a_gpu_is_named_by_its_uuid_where_known(monkeypatch):
    import types

    import torch

    from prunebench.benchmark import interference

    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    props = {0: types.SimpleNamespace(uuid="GPU-1234"), 1: types.SimpleNamespace()}
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props[i])
    assert interference.device_key(torch.device("cuda")) == "cuda-GPU-1234"
    assert interference.device_key(torch.device("cuda", 1)) == "cuda-1"  # no uuid: the index


def test_competition_rule():
    assert competing({"other_cpu_cores": 0.9, "gpu_other_processes": []})
    assert not competing({"other_cpu_cores": 0.1, "gpu_other_processes": []})
    assert competing({"other_cpu_cores": 0.0, "gpu_other_processes": [1234]})
    # a GPU benchmark is not flagged for CPU work elsewhere on a shared node
    assert not competing({"other_cpu_cores": 8.0, "gpu_other_processes": []}, count_cpu=False)
    assert competing({"other_cpu_cores": None, "gpu_other_processes": [7]}, count_cpu=False)
    # a check that could not be made is not competition, nor its absence
    assert competing({"other_cpu_cores": 0.0, "gpu_other_processes": None}, count_cpu=False) \
        is None
    assert competing({"other_cpu_cores": None, "gpu_other_processes": None}) is None



def test_what_the_tick_counts_can_show_by_themselves_is_not_competition(monkeypatch):
    """/proc/stat counts whole ticks per CPU: over a short window on many cores, rounding alone
    shows cores of other work. Only work beyond that allowance is flagged."""
    from prunebench.benchmark import interference

    row = {"other_cpu_cores": 0.9, "other_cpu_cores_resolution": 0.5, "gpu_other_processes": []}
    assert not competing(row)
    assert competing({**row, "other_cpu_cores": 1.2})
    monkeypatch.setattr(interference.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(interference.os, "sysconf", lambda name: 100)
    assert interference.tick_resolution(1.0) == pytest.approx(1.28)  # 2 ticks x 64 CPUs
    assert interference.tick_resolution(4.0) == pytest.approx(0.32)  # shrinks with the window


def _fake_gpu(monkeypatch, listing):
    """torch.cuda as a GPU machine shows it: `listing` is what list_gpu_processes returns (an
    exception is raised)."""
    import torch

    def list_gpu_processes(device=None):
        if isinstance(listing, Exception):
            raise listing
        return listing

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "list_gpu_processes", list_gpu_processes)


def _gpu_row(monkeypatch, listing) -> dict:
    """What a GPU benchmark's row records when NVML lists `listing` before and after it."""
    import torch

    _fake_gpu(monkeypatch, listing)
    meter = CompetitionMeter(torch.device("cuda", 0))
    meter.start()
    return meter.stop()


@pytest.mark.parametrize("listing", [
    "pynvml module not found, please install nvidia-ml-py",  # torch's answer without pynvml
    "cuda driver can't be loaded, is cuda enabled?",
    RuntimeError("NVML Shared Library Not Found"),
])
def test_gpu_processes_that_cannot_be_listed_are_unknown_not_none(monkeypatch, listing):
    record = _gpu_row(monkeypatch, listing)
    assert record["gpu_other_processes"] is None  # not checked, rather than "none found"
    assert record["competition"] is None
    assert record["gpu_unchecked"]  # why, for the reader of the result file


def test_the_benchmark_is_not_counted_as_another_process_on_its_gpu_in_a_container(
        monkeypatch, tmp_path):
    """In a container with its own PID namespace NVML names this process by its host PID."""

    from prunebench.benchmark import interference

    # PIDs other than this process's own, whatever that is: its host PID, another process's.
    host_pid, other_pid = os.getpid() + 1, os.getpid() + 2
    status = tmp_path / "status"
    status.write_text(f"Name:\tpython\nPid:\t{os.getpid()}\nNSpid:\t{host_pid}\t{os.getpid()}\n"
                      "PPid:\t1\n")
    monkeypatch.setattr(interference, "PROC_STATUS", status)
    assert interference.own_pids() == {host_pid, os.getpid()}
    alone = f"GPU:0\nprocess      {host_pid} uses     1234.000 MB GPU memory"
    record = _gpu_row(monkeypatch, alone)
    assert record["gpu_other_processes"] == [] and record["competition"] is False

    record = _gpu_row(monkeypatch,
                      alone + f"\nprocess        {other_pid} uses      512.000 MB GPU memory")
    assert record["gpu_other_processes"] == [other_pid] and record["competition"] is True
    assert "gpu_own_pid_unmatched" not in record


def test_a_gpu_listing_without_this_benchmark_is_not_read_as_no_other_work(monkeypatch):
    """The benchmark holds its GPU while it is timed, so a listing that names no process
    cannot see processes at all: unknown, not "none found"."""

    from prunebench.benchmark import interference

    record = _gpu_row(monkeypatch, "GPU:0\nno processes are running")
    assert record["gpu_other_processes"] is None and record["competition"] is None
    assert record["gpu_unchecked"] == interference.NO_PROCESS_LISTED


def test_a_container_that_shows_only_its_own_pids_still_tells_one_process_from_several(
        monkeypatch, tmp_path):
    """A container with its own /proc mount lists only the container's PID in `NSpid:`, while
    NVML may name processes by their host PIDs: none is this process's. One process listed is
    then this benchmark alone; several are competition, listed whole, this one among them."""

    from prunebench.benchmark import interference

    status = tmp_path / "status"
    status.write_text(f"Name:\tpython\nPid:\t{os.getpid()}\nNSpid:\t{os.getpid()}\n")
    monkeypatch.setattr(interference, "PROC_STATUS", status)
    host_pid, other_pid = os.getpid() + 1, os.getpid() + 2  # neither visible from here
    alone = f"GPU:0\nprocess      {host_pid} uses     1234.000 MB GPU memory"
    record = _gpu_row(monkeypatch, alone)
    assert record["gpu_other_processes"] == [] and record["competition"] is False
    assert record["gpu_own_pid_unmatched"] is True

    record = _gpu_row(monkeypatch,
                      alone + f"\nprocess        {other_pid} uses      512.000 MB GPU memory")
    assert record["competition"] is True
    assert record["gpu_other_processes"] == [host_pid, other_pid]
    assert record["gpu_own_pid_unmatched"] is True


def test_own_pids_without_a_pid_namespace_listing(monkeypatch, tmp_path):
    from prunebench.benchmark import interference

    monkeypatch.setattr(interference, "PROC_STATUS", tmp_path / "absent")  # not Linux
    assert interference.own_pids() == {os.getpid()}


def test_a_contended_row_is_described_in_words_not_as_its_record():
    """The log line of a contended row says which processes shared the GPU or how many cores
    other work took against the limit (it printed the record, a Python dict)."""
    from prunebench.benchmark.interference import describe

    gpu = {"gpu_other_processes": [4242, 4343], "other_cpu_cores": None, "competition": True}
    assert "PIDs 4242, 4343" in describe(gpu) and "{" not in describe(gpu)
    cpu = {"other_cpu_cores": 1.3, "other_cpu_cores_resolution": 0.04, "loadavg_before": 0.5,
           "loadavg_after": 2.25, "gpu_other_processes": None, "competition": True}
    said = describe(cpu)
    assert "1.30 CPU cores" in said and f"{OTHER_CPU_CORES_LIMIT + 0.04:.2f}" in said
    assert "0.50 before and 2.25 after" in said and "{" not in said
    assert describe({"other_cpu_cores": None, "gpu_other_processes": None}) == \
        "no other work recorded"

