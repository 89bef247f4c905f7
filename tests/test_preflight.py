"""prunebench.plan.preflight: the warnings a run gives before any job starts (hub files that
cannot be fetched from here, GPU jobs on a machine without a GPU). The workflow's use of them is
tested in tests/test_workflow.py (a dry run)."""
from pathlib import Path

import pytest

from prunebench.plan import preflight


def fake_dev(tmp_path: Path, *names: str) -> Path:
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in names:
        (dev / name).touch()
    return dev


@pytest.mark.parametrize("nodes, hidden, visible", [
    (["nvidia0", "nvidiactl"], None, True),
    (["nvidia3"], "0", True),               # a listed device is not hidden
    (["kfd"], None, True),                  # ROCm
    (["nvidiactl", "nvidia-uvm"], None, False),  # the driver without a device
    ([], None, False),
    (["nvidia0"], "", False),               # CUDA_VISIBLE_DEVICES hides every device
    (["nvidia0"], "-1", False),
    (["dxg"], None, True),                  # WSL2
])
def test_a_gpu_is_seen_from_device_nodes_and_cuda_visible_devices(tmp_path, nodes, hidden,
                                                                  visible):
    environ = {} if hidden is None else {"CUDA_VISIBLE_DEVICES": hidden}
    assert preflight.gpu_visible(fake_dev(tmp_path, *nodes), environ) is visible


def test_missing_keeps_the_paths_not_on_disk_in_order_once(tmp_path):
    (tmp_path / "here").touch()
    paths = [str(tmp_path / n) for n in ("b", "here", "a", "b")]
    assert preflight.missing(paths) == [str(tmp_path / "b"), str(tmp_path / "a")]


def test_the_hub_is_asked_only_when_files_are_missing_and_named_when_it_does_not_answer(
        monkeypatch):
    from huggingface_hub import constants

    asked = []
    assert preflight.hub_warning([], lambda: asked.append(1) or False) is None
    assert asked == []  # nothing to fetch: no connection tried
    files = [f"resources/models/m{i}" for i in range(5)]
    assert preflight.hub_warning(files, lambda: True) is None
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    warning = preflight.hub_warning(files, lambda: False)
    assert warning.startswith("5 file(s) still to make need the Hugging Face hub "
                              "(resources/models/m0, resources/models/m1, resources/models/m2 "
                              "and 2 more); the hub does not answer from here: their jobs will "
                              "fail, and the run stops at the first (add --keep-going")
    assert "snakemake prefetch" in warning
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert "HF_HUB_OFFLINE is set" in preflight.hub_warning(files, lambda: False)


PENDING = {"tiny": ["results/eval/tiny/dense/ppl.json"],
           "llama": ["results/bench/llama/dense/hf/12x128.json", "results/eval/llama/dense/ppl.json"],
           "done": []}


def warn(device, pending=PENDING, gpu=False, here=True, dry_run=False):
    return preflight.gpu_warning(device, pending, gpu=gpu, jobs_run_here=here, dry_run=dry_run,
                                 cpu_models=["tiny"])


def test_auto_on_a_machine_without_gpu_warns_of_the_large_models_only():
    warning = warn("auto")
    assert "no GPU, so with device: auto the 2 prune, benchmark and evaluation job(s) still to " \
           "run for llama would run on the CPU: hours" in warning
    assert "tiny" not in warning and "done" not in warning
    assert warn("auto", {"tiny": PENDING["tiny"], "done": []}) is None  # made for the CPU


def test_a_model_is_cpu_sized_when_its_config_counts_few_parameters(tmp_path,
                                                                     small_random_model):
    """Judged from a config, never from weights: a model whose size is not known yet (a hub
    model before its download) or whose config cannot be read is not."""
    folder = tmp_path / "small"
    small_random_model().save_pretrained(folder)
    nowhere = tmp_path / "resources" / "models"
    assert preflight.cpu_sized(nowhere / "tiny", "tiny")
    assert preflight.cpu_sized(nowhere / "small", f"local:{folder}")  # the folder's own config
    assert preflight.cpu_sized(folder, "hf:someone/small@main")  # downloaded: its config.json
    assert not preflight.cpu_sized(nowhere / "big", "random:llama-7b")
    assert not preflight.cpu_sized(nowhere / "remote", "hf:someone/small@main")
    broken = tmp_path / "broken"
    broken.mkdir()
    for text in ("{not json", "[]", '{"hidden_size": "64"}'):
        (broken / "config.json").write_text(text)
        assert not preflight.cpu_sized(broken, "hf:someone/broken@main")


def test_cuda_on_a_machine_without_gpu_warns_that_every_gpu_job_would_stop():
    warning = warn("cuda:1")
    assert warning.startswith("device is 'cuda:1' but this machine shows no GPU: the 3 prune, "
                              "benchmark and evaluation job(s) still to run for tiny, llama "
                              "would stop at their start")
    assert warn("cuda", {"done": []}) is None  # nothing left to run
    # A dry run cannot tell whether a cluster will run them: it says so.
    assert "would stop at their start if they run here (without a cluster executor)" \
        in warn("cuda", dry_run=True)


@pytest.mark.parametrize("device, gpu, here", [
    ("cpu", False, True),      # asked for
    ("auto", True, True),      # a GPU is here
    ("cuda", True, True),
    ("cuda", False, False),    # a cluster runs the jobs elsewhere
])
def test_no_gpu_warning_when_none_is_due(device, gpu, here):
    assert warn(device, gpu=gpu, here=here) is None


def test_tables_about_to_lose_rows_are_named_with_the_run_that_made_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.json", "b.json", "c.json"):
        Path(name).write_text("{}")
    record = {"inputs": [{"kind": "bench", "path": "a.json"}, {"kind": "evaluation", "path": "b.json"},
                         {"kind": "prune_report", "path": "gone.json"},
                         {"kind": "published", "path": "c.json"}],
              "configfiles": "--configfile config/config.yaml my.yaml"}
    warning = preflight.dropped_rows_warning(record, ["a.json"])
    assert warning.startswith("the tables in results/tables/ hold rows from 1 result file(s) this "
                              "run's config does not ask for (b.json)")
    assert warning.endswith("stop (Ctrl-C) and rerun with the config files that made them "
                            "(--configfile config/config.yaml my.yaml)")
    # every row file asked for, or the others gone from disk, or no record: nothing to say
    assert preflight.dropped_rows_warning(record, ["a.json", "b.json"]) is None
    Path("b.json").unlink()
    assert preflight.dropped_rows_warning(record, ["a.json"]) is None
    assert preflight.dropped_rows_warning(None, []) is None
    assert preflight.dropped_rows_warning({"inputs": "?"}, []) is None
    Path("b.json").write_text("{}")
    older = {k: v for k, v in record.items() if k != "configfiles"}  # made before it was kept
    assert preflight.dropped_rows_warning(older, ["a.json"]).endswith(
        "rerun with the --configfile files of the run that made them")


def test_a_cluster_run_with_the_local_profiles_gpu_limit_is_warned_of():
    """`--profile profiles/slurm` (or $SNAKEMAKE_PROFILE) loads profiles/default beside it,
    whose gpu=1 then lets one GPU job of the whole cluster run at a time."""
    warning = preflight.cluster_gpu_limit_warning(1, cluster=True)
    assert "only 1 GPU job(s)" in warning and "--workflow-profile profiles/slurm" in warning
    assert preflight.cluster_gpu_limit_warning(1, cluster=False) is None  # local: wanted
    assert preflight.cluster_gpu_limit_warning(None, cluster=True) is None  # no limit given
