"""Benchmarks never time at once (a machine-wide OS lock), and other work is measured
(prunebench.benchmark.interference)."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from prunebench.benchmark.interference import CompetitionMeter, competing, machine_lock

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


def test_a_second_benchmark_waits_for_the_first(tmp_path):
    import threading

    path = tmp_path / "bench.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE,
                              text=True)
    entered = threading.Event()

    def second():
        with machine_lock(path):
            entered.set()

    try:
        assert holder.stdout.readline().strip() == "locked"
        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        assert not entered.wait(0.5)  # waits while the first holds the lock
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


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="CPU accounting needs /proc/stat")
def test_other_cpu_work_during_a_row_is_measured():
    meter = CompetitionMeter("cpu")
    meter.start()
    # another process keeps a core busy for a second while this one only waits
    subprocess.run([sys.executable, "-c",
                    "import time\nend = time.time() + 1.0\nwhile time.time() < end: pass"])
    record = meter.stop()
    assert record["other_cpu_cores"] > 0.3  # at least its busy loop; more if the machine is busy
    assert record["competition"] is (record["other_cpu_cores"] > 0.5)


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
