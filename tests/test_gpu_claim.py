"""One GPU per job on a machine with several (prunebench.gpu_claim): claimed through OS file
locks, tried here with GPU keys of no real GPU, by processes as the workflow's jobs are."""
import os
import select
import subprocess
import sys
import textwrap
import time
import types

import pytest
import torch

from prunebench import PrunebenchError, gpu_claim, modeling

# A job: claims one GPU (or all), says which, and holds it until told to end; its log (stderr)
# says when it has found every GPU it asked for held and waits.
HOLDER = textwrap.dedent("""
    import logging, sys, time
    from pathlib import Path
    from prunebench import gpu_claim
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)  # says when it waits
    keys, mode, done = sys.argv[1].split(","), sys.argv[2], Path(sys.argv[3])
    if mode in ("one", "one-then-all"):
        print(gpu_claim.claim_one(keys, poll_s=0.05), flush=True)
    if mode == "one-then-all":  # a device-mapped model's job: resolve_device, then load_model
        while not done.with_suffix(".go").exists():
            time.sleep(0.05)
    if mode != "one":
        gpu_claim.claim_all(keys)
        print("all", flush=True)
    while not done.exists():
        time.sleep(0.05)
""")


@pytest.fixture
def locks(tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEBENCH_LOCK_DIR", str(tmp_path / "locks"))
    yield tmp_path
    gpu_claim.release()


class Holder:
    def __init__(self, tmp_path, name: str, keys: list[str], mode: str = "one"):
        self.done = tmp_path / f"{name}.done"
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, ",".join(keys), mode,
                                      str(self.done)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.log = ""

    def said(self, timeout: float = 60) -> str:
        """The holder's first line: what it claimed (it has claimed it when it says so)."""
        assert _ready(self.proc.stdout, timeout), f"nothing claimed in {timeout} s"
        line = self.proc.stdout.readline().strip()
        assert line, f"the holder ended without claiming (rc {self.proc.poll()})"
        return line

    def waits(self, timeout: float = 60) -> bool:
        """Whether it says it waits (it found what it asked for held: a try that failed, not a
        slow start) and, once it has said so, still has claimed nothing."""
        deadline = time.monotonic() + timeout
        stderr = self.proc.stderr.fileno()  # read raw: a line buffered in Python hides from select
        while "waiting" not in self.log:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stderr], [], [], left)[0]:
                return False
            chunk = os.read(stderr, 4096)
            if not chunk:  # it ended
                return False
            self.log += chunk.decode(errors="replace")
        return self.proc.poll() is None and not _ready(self.proc.stdout)

    def end(self):
        """Ends it; one still waiting for a GPU (it never looks at `done`) is killed."""
        self.done.touch()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _ready(stream, timeout: float = 0) -> bool:
    """Whether `stream` has a line to read within `timeout` seconds."""
    return bool(select.select([stream], [], [], timeout)[0])


def test_each_job_gets_a_gpu_no_other_holds_and_waits_while_all_are_held(locks):
    keys = ["fake-a", "fake-b"]
    first, second = Holder(locks, "first", keys), None
    try:
        assert first.said() == "0"
        second = Holder(locks, "second", keys)
        assert second.said() == "1"
        third = Holder(locks, "third", keys)
        try:
            assert third.waits()  # both held: it cannot have one
            first.end()  # a job ends, however it ends: the kernel lets go of its lock
            assert third.said() == "0"
        finally:
            third.end()
    finally:
        first.end()
        if second:
            second.end()


def test_a_model_spread_over_the_gpus_waits_for_every_one(locks):
    keys = ["fake-a", "fake-b"]
    single = Holder(locks, "single", keys)
    try:
        assert single.said() == "0"
        spread = Holder(locks, "spread", keys, mode="all")
        try:
            assert spread.waits()
            single.end()
            assert spread.said() == "all"
            after = Holder(locks, "after", keys)  # every GPU is the spread model's now
            try:
                assert after.waits()
                spread.end()
                assert after.said() == "0"
            finally:
                after.end()
        finally:
            spread.end()
    finally:
        single.end()


def test_two_spread_models_that_each_hold_one_gpu_both_get_all_in_turn(locks):
    """Each lets go of its own GPU before taking all in order: holding one while waiting for
    the other's, they would wait forever."""
    keys = ["fake-a", "fake-b"]
    first = Holder(locks, "first", keys, mode="one-then-all")
    second = Holder(locks, "second", keys, mode="one-then-all")
    try:
        assert {first.said(), second.said()} == {"0", "1"}  # one GPU each
        for holder in (first, second):
            holder.done.with_suffix(".go").touch()
        outputs = {h.proc.stdout: h for h in (first, second)}
        ready = select.select(list(outputs), [], [], 60)[0]
        assert ready, "neither took every GPU: they wait on each other"
        earlier = outputs[ready[0]]
        assert earlier.said() == "all"
        earlier.end()
        later = second if earlier is first else first
        assert later.said() == "all"
    finally:
        first.end()
        second.end()


@pytest.fixture
def fake_gpus(monkeypatch, locks):
    """torch seeing `count` GPUs (of no real device); the indexes set current are recorded."""
    current = []

    def make(count: int):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(torch.cuda, "get_device_properties",
                            lambda index: types.SimpleNamespace(uuid=f"fake-{index}"))
        monkeypatch.setattr(torch.cuda, "set_device", current.append)
        return current

    return make


def test_cuda_without_an_index_is_the_gpu_this_job_claimed(fake_gpus, locks):
    current = fake_gpus(3)
    busy = Holder(locks, "busy", ["fake-0"])  # another job is on GPU 0
    try:
        assert busy.said() == "0"
        assert modeling.resolve_device("auto") == torch.device("cuda", 1)
        assert current == [1]
        # The same GPU for every later call of this process (the sweep resolves it again).
        assert modeling.resolve_device("cuda") == torch.device("cuda", 1)
        assert current == [1, 1]
        # A device named with its index is used as given, and made the current one too
        # (CUDA events and graph capture use the current device).
        assert modeling.resolve_device("cuda:2") == torch.device("cuda", 2)
        assert current == [1, 1, 2]
        assert sorted(gpu_claim._held) == ["fake-1"]
    finally:
        busy.end()


def test_an_index_beyond_the_gpus_this_job_sees_is_refused_with_the_fix(fake_gpus, locks,
                                                                         monkeypatch):
    """Under SLURM's `--gpus=1` a job sees its GPU as cuda:0: `device: cuda:1` failed each job
    (and each retry) with CUDA's "invalid device ordinal", which names no fix."""
    current = fake_gpus(1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with pytest.raises(PrunebenchError) as err:
        modeling.resolve_device("cuda:1")
    assert str(err.value) == (
        "device cuda:1 names GPU 1, but this process sees 1 GPU (numbered from 0; "
        "CUDA_VISIBLE_DEVICES=3): a scheduler such as SLURM gives each job its own GPUs, "
        "numbered from 0 in the job: set device: cuda or device: auto in the run's config (each "
        "job then uses the GPU it was given), or an index below 1")
    assert current == []  # nothing made current
    assert modeling.resolve_device("cuda:0") == torch.device("cuda", 0)


def test_with_one_gpu_nothing_is_claimed(fake_gpus, locks):
    current = fake_gpus(1)
    assert modeling.resolve_device("auto") == torch.device("cuda")
    assert current == [] and gpu_claim._held == {}
    assert not (locks / "locks").exists()


@pytest.mark.parametrize("max_memory, held", [
    ({0: "70GiB", 1: "70GiB", "cpu": "200GiB"}, ["fake-0", "fake-1"]),
    ({"cpu": "200GiB"}, []),  # a map of the CPU alone holds no GPU
    (None, ["fake-0", "fake-1", "fake-2", "fake-3"])])
def test_a_spread_model_holds_the_gpus_its_placement_names_else_all(fake_gpus, locks,
                                                                     max_memory, held):
    """Two GPUs named of four: the other two stay free for other jobs; none named, all."""
    fake_gpus(4)
    modeling.claim_placement_gpus("auto", max_memory)
    assert sorted(gpu_claim._held) == held


def test_a_gpu_lock_is_never_taken_through_a_link(locks):
    """As the benchmark's lock: the GPU locks lie in a folder every user writes."""
    from prunebench import ResourceError

    target = locks / "someone-elses-file"
    target.write_text("precious\n")
    path = gpu_claim.lock_file("GPU-link")
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    with pytest.raises(ResourceError, match="is a link or not a plain file"):
        gpu_claim.claim_one(["GPU-link", "GPU-other"])
    assert target.read_text() == "precious\n"
