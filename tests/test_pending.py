"""prunebench.plan.pending: the jobs a run is about to start, refused before the first starts
when they would fail on their input (Snakemake would remove a rerun's old outputs first). The
workflow's use of it: tests/test_failure_modes.py::test_f55_..."""
import functools
from pathlib import Path

import pytest

from prunebench import PrunebenchError
from prunebench.atomic import write_json
from prunebench.plan import pending
from prunebench.plan.pending import (PendingJob, aggregation_input_problems, check_pending,
                                      gpu_problems, input_checkpoint_problems, lora_problems,
                                      prune_problems, slurm_plugin_problems,
                                      token_config_problems, unwritable_folder_problems)


def job(rule, outputs=(), **params):
    return PendingJob(rule, {"model": "m", "variant": "depth_mag-0.8"}, params, tuple(outputs))


def unknown_config(model):
    raise AssertionError("a config was asked for where nothing needed checking")


def no_model_dir(model):
    raise AssertionError("a model folder was asked for where nothing needed checking")


def test_cuda_jobs_run_again_here_without_a_gpu_are_refused_with_what_they_would_remove(
        tmp_path):
    made = tmp_path / "made.json"
    made.write_text("{}")
    jobs = [job("prune", [made], device="cuda"), job("benchmark", [tmp_path / "new"],
                                                     device="cuda"), job("aggregate")]
    [line] = gpu_problems(jobs, gpu=False, jobs_run_here=True)
    assert line.startswith("device is 'cuda' but this machine shows no GPU: 1 job(s) run again "
                           "here (prune m/depth_mag-0.8) would stop at their start, after "
                           "removing the results they made before")
    assert "device: auto" not in line  # changing device would rerun every finished GPU job
    with pytest.raises(PrunebenchError, match="1 problem.*before any job started"):
        check_pending(jobs, no_model_dir, jobs_run_here=True, gpu=False)


def new_cuda_jobs(tmp_path, case):
    """A first run's jobs, of which two ask for CUDA: `device: cuda`, or compiled benchmarks in
    a mode that runs only on CUDA under `device: auto` (the other jobs run on the CPU then)."""
    if case == "device":
        return [job("prune", [tmp_path / "ckpt"], device="cuda"),
                job("benchmark", [tmp_path / "new.json"], device="cuda:1"),
                job("model", [tmp_path / "model"]), job("aggregate")]
    graph = {"compile_mode": "cuda-graph"}
    return [job("benchmark", [tmp_path / "a.json"], device="auto", settings=graph),
            job("paired_benchmark", [tmp_path / "b.json"], device="auto", settings=graph),
            job("benchmark", [tmp_path / "c.json"], device="auto", settings={"sampling": False}),
            job("prune", [tmp_path / "ckpt"], device="auto"), job("model", [tmp_path / "m"])]


@pytest.mark.parametrize("case, said, fix", [
    ("device", "device is 'cuda' but this machine shows no GPU: the 2 job(s) to run here that "
     "ask for it (prune m/depth_mag-0.8, benchmark m/depth_mag-0.8) would each stop at its start",
     "set device: auto to run them on this machine's CPU"),
    ("compile_mode", "benchmark.compile_mode 'cuda-graph' runs only on CUDA, and this machine "
     "shows no GPU: the 2 compiled-backend benchmark(s) to run here (benchmark m/depth_mag-0.8, "
     "paired_benchmark m/depth_mag-0.8) would each stop at its start",
     "set benchmark.compile_mode: auto to run them op by op on this machine's CPU"),
])
def test_new_cuda_jobs_to_run_here_without_a_gpu_are_refused_before_the_jobs_before_them(
        tmp_path, case, said, fix):
    """A first run of `device: cuda`, or of `device: auto` with a compile mode that runs only on
    CUDA, on a machine without a GPU: every prune, benchmark and evaluation job, or every
    compiled benchmark, would stop at its start, after the model's training or download (and
    the prunes) ran for nothing; the preflight warning says nothing of the tiny model, made for
    the CPU. Refused at once, with the setting to change as a fix (nothing made would rerun)."""
    jobs = new_cuda_jobs(tmp_path, case)
    [line] = gpu_problems(jobs, gpu=False, jobs_run_here=True)
    assert line.startswith(said)
    assert "--no-hooks" in line and line.endswith(fix)
    with pytest.raises(PrunebenchError, match="1 problem.*before any job started"):
        check_pending(jobs, no_model_dir, jobs_run_here=True, gpu=False)
    assert gpu_problems(jobs, gpu=True, jobs_run_here=True) == []
    assert gpu_problems(jobs, gpu=False, jobs_run_here=False) == []  # a cluster runs them
    for harmless in ("auto", "eager", "compile"):  # op by op, or compiled, on the CPU
        jobs = [job("benchmark", [tmp_path / "a.json"], device="auto",
                    settings={"compile_mode": harmless})]
        assert gpu_problems(jobs, gpu=False, jobs_run_here=True) == []


@pytest.mark.parametrize("version", ["2.6.1", "1.9.2", "2.7.1rc1", "2.7.0.post3", "not-a-version"])
def test_a_slurm_plugin_older_than_the_profile_needs_is_refused_naming_the_upgrade(version):
    [line] = slurm_plugin_problems(version)
    assert f"snakemake-executor-plugin-slurm>={pending.SLURM_PLUGIN_FLOOR},<3" in line
    assert repr(version) in line if version == "not-a-version" else line.startswith(
        f"snakemake-executor-plugin-slurm {version} is older than 2.7.1")
    with pytest.raises(PrunebenchError, match="1 problem.*before any job started"):
        check_pending([], no_model_dir, jobs_run_here=False, slurm_plugin=version)


@pytest.mark.parametrize("version", [None, "2.7.1", "2.8.0", "2.10.0", "3.0.0.dev1"])
def test_a_run_not_through_slurm_or_through_a_recent_plugin_is_not_refused(version):
    assert slurm_plugin_problems(version) == []
    check_pending([], no_model_dir, jobs_run_here=version is None, gpu=False,
                  slurm_plugin=version)


@pytest.mark.parametrize("mode", ["cuda-graph", "autotune-graph", "reduce-overhead"])
def test_compiled_benchmarks_run_again_here_in_a_cuda_only_mode_are_refused(tmp_path, mode):
    made = tmp_path / "made.json"
    made.write_text("{}")
    jobs = [job("benchmark", [made], device="auto", settings={"compile_mode": mode}),
            job("benchmark", [tmp_path / "new"], device="auto", settings={"compile_mode": mode}),
            job("benchmark", [made], device="auto", settings={"sampling": False})]  # hf backend
    [line] = gpu_problems(jobs, gpu=False, jobs_run_here=True)
    assert line.startswith(f"benchmark.compile_mode {mode!r} runs only on CUDA, and this machine "
                           "shows no GPU: 1 compiled-backend benchmark(s) run again here")
    assert gpu_problems(jobs, gpu=True, jobs_run_here=True) == []
    assert gpu_problems(jobs, gpu=False, jobs_run_here=False) == []  # a cluster runs them
    for harmless in ("auto", "eager"):  # op by op on the CPU
        jobs = [job("benchmark", [made], device="auto", settings={"compile_mode": harmless})]
        assert gpu_problems(jobs, gpu=False, jobs_run_here=True) == []


@pytest.mark.parametrize("device, gpu, here", [
    ("cuda", True, True),    # a GPU shows
    ("cuda", False, False),  # a cluster runs them elsewhere
    ("auto", False, True),   # they go to the CPU (preflight's warning says so)
    ("cpu", False, True),
])
def test_no_gpu_refusal_when_the_jobs_can_start(tmp_path, device, gpu, here):
    jobs = [job("prune", [tmp_path], device=device)]  # run again (its output is there)
    assert gpu_problems(jobs, gpu=gpu, jobs_run_here=here) == []
    check_pending(jobs, no_model_dir, jobs_run_here=here, gpu=gpu)


def test_auto_jobs_run_again_here_over_gpu_results_are_refused(tmp_path):
    """A one-cell rerun pasted on a cluster's login node without the profile: device: auto
    would remake a GPU timing on the CPU. Results made on the CPU, new jobs, a GPU here, a
    cluster run and an explicit device: cpu are let through."""
    def result(name, device, gpu_name=None):
        path = tmp_path / name
        write_json(path, {"provenance": {"device": device, **({"gpu_name": gpu_name}
                                                               if gpu_name else {})}})
        return str(path)

    on_gpu = job("benchmark", [result("gpu.json", "cuda:0", "NVIDIA H200")], device="auto")
    lora = job("lora", [str(tmp_path / "ckpt"), result("report.json", "cuda")], device="auto")
    on_cpu = job("benchmark", [result("cpu.json", "cpu")], device="auto")
    new = job("benchmark", [str(tmp_path / "new.json")], device="auto")
    [line] = gpu_problems([on_gpu, lora, on_cpu, new], gpu=False, jobs_run_here=True)
    assert line.startswith("this machine shows no GPU, and device: auto would run 2 job(s) "
                           "again on its CPU (benchmark m/depth_mag-0.8, lora m/depth_mag-0.8), "
                           "replacing results made on NVIDIA H200, cuda")
    assert "--workflow-profile profiles/slurm" in line and "add --no-hooks" in line
    # Not "change device": every finished GPU job has it as a param, so all would rerun.
    assert "device: cpu" not in line
    with pytest.raises(PrunebenchError, match="1 problem"):
        check_pending([on_gpu], no_model_dir, jobs_run_here=True, gpu=False)
    assert gpu_problems([on_gpu], gpu=True, jobs_run_here=True) == []
    assert gpu_problems([on_gpu], gpu=False, jobs_run_here=False) == []
    explicit = job("benchmark", on_gpu.outputs, device="cpu")
    assert gpu_problems([explicit, on_cpu, new], gpu=False, jobs_run_here=True) == []
    # The tiny model is made for the CPU: its GPU-made results may be remade here.
    tiny = job("benchmark", on_gpu.outputs, device="auto", source="tiny")
    assert gpu_problems([tiny], gpu=False, jobs_run_here=True) == []


def test_a_lora_run_again_on_too_few_records_is_refused(tmp_path):
    data = tmp_path / "instructions.jsonl"
    data.write_text('{"instruction": "a", "input": "", "output": "b"}\n' * 5 + "\n")
    old = tmp_path / "checkpoint"
    old.mkdir()

    def lora(val_size, outputs=(old,)):
        return PendingJob("lora", {"model": "m", "base": "depth_mag-0.8"},
                          {"settings": {"data": {"val_size": val_size}}},
                          tuple(map(str, outputs)), (str(tmp_path / "ckpt"), str(data)))

    [line] = lora_problems([lora(5)], set())
    assert line.startswith("lora m/depth_mag-0.8: only 5 instruction records for a validation "
                           "split of 5: lower lora.data.val_size")
    assert f"its recovered checkpoint made before, {old}, would be removed first" in line
    with pytest.raises(PrunebenchError, match="only 5 instruction records"):
        check_pending([lora(5)], no_model_dir, jobs_run_here=True, gpu=False)
    assert lora_problems([lora(4)], set()) == []  # 1 record left to train on
    assert lora_problems([lora(5, outputs=[tmp_path / "new"])], set()) == []  # nothing to lose
    assert lora_problems([lora(5)], {str(data)}) == []  # made again in this run: its job says


def test_a_lora_run_again_on_records_that_would_train_nothing_is_refused(tmp_path):
    """Records beyond the validation split that fill one batch in one epoch make one step,
    at a warm-up's learning rate of 0: the recovery would keep the base model."""
    from prunebench.plan.lora_settings import resolve_settings

    data = tmp_path / "instructions.jsonl"
    data.write_text('{"instruction": "a", "input": "", "output": "b"}\n' * 20)
    old = tmp_path / "checkpoint"
    old.mkdir()

    def lora(**settings):
        resolved = resolve_settings({"epochs": 1, "batch_size": 8, "micro_batch_size": 4,
                                     "warmup_steps": 1, **settings})
        return PendingJob("lora", {"model": "m", "base": "depth_mag-0.8"},
                          {"settings": resolved}, (str(old),),
                          (str(tmp_path / "ckpt"), str(data)))

    [line] = lora_problems([lora(data={"val_size": 12})], set())  # 8 left: one batch
    assert line.startswith("lora m/depth_mag-0.8: 8 training record(s) fill one batch of "
                           "lora.batch_size=8 in lora.epochs=1"), line
    assert "lower lora.data.val_size, or use more data" in line
    assert f"its recovered checkpoint made before, {old}, would be removed first" in line
    assert lora_problems([lora(data={"val_size": 11})], set()) == []  # 9 left: two steps
    assert lora_problems([lora(data={"val_size": 12}, warmup_steps=0)], set()) == []
    assert lora_problems([lora(data={"val_size": 12}, epochs=2)], set()) == []


def test_a_job_run_again_on_a_checkpoint_cut_short_is_refused_before_its_result_goes(
        tmp_path, small_random_model):
    """A forced benchmark of a checkpoint whose weights were truncated removed the benchmark
    made before and then failed on the checkpoint."""
    from prunebench import modeling

    checkpoint = tmp_path / "checkpoint"
    modeling.save_model(small_random_model(), None, checkpoint)
    result = tmp_path / "12x32.json"
    result.write_text("{}")

    def bench(outputs=(result,)):
        return PendingJob("benchmark", {"model": "m", "variant": "v"}, {},
                          tuple(map(str, outputs)), (str(checkpoint),))

    assert input_checkpoint_problems([bench()], set()) == []  # whole: nothing to say
    weights = next(checkpoint.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    [line] = input_checkpoint_problems([bench()], set())
    assert line.startswith(f"benchmark m/v: its input checkpoint {checkpoint}: {weights.name}")
    assert f"{result}, made before, would be removed first" in line
    with pytest.raises(PrunebenchError, match="its input checkpoint"):
        check_pending([bench()], no_model_dir, jobs_run_here=True, gpu=True)
    assert input_checkpoint_problems([bench([tmp_path / "new.json"])], set()) == []  # new
    assert input_checkpoint_problems([bench()], {str(checkpoint)}) == []  # remade in this run


def test_an_aggregation_run_again_over_a_damaged_result_is_refused_before_its_tables_go(
        tmp_path, monkeypatch):
    """A hand-edited bench file (newer than the tables) reran the aggregation, which removed
    the tables and figures and then failed on that file."""
    from test_report import write_bench

    monkeypatch.chdir(tmp_path)  # the workflow's paths are relative to where it runs
    good = write_bench(Path("."), "m7", "dense", "hf", 12, 128)
    edited = write_bench(Path("."), "m7", "depth-4.9B", "hf", 12, 128)
    table = tmp_path / "results/tables/speed.csv"
    table.parent.mkdir(parents=True)
    table.write_text("made before")
    published = tmp_path / "published.csv"
    published.write_text("not a result file: not read here")

    def aggregate(inputs, outputs=("results/tables/speed.csv",)):
        return PendingJob("aggregate", {}, {}, outputs, tuple(map(str, inputs)))

    inputs = [good, edited, published]
    assert aggregation_input_problems([aggregate(inputs)], set()) == []
    edited.write_text(edited.read_text()[:-40])  # cut short by a hand edit
    [line] = aggregation_input_problems([aggregate(inputs)], set())
    assert line.startswith("aggregate: ") and str(edited) in line
    assert "(the tables and figures made before would be removed first)" in line
    with pytest.raises(PrunebenchError, match="would be removed first"):
        check_pending([aggregate(inputs)], no_model_dir, jobs_run_here=True, gpu=True)
    # nothing to lose, or the file is made again by this run: its own job decides
    assert aggregation_input_problems([aggregate(inputs, ("results/tables/new.csv",))],
                                      set()) == []
    assert aggregation_input_problems([aggregate(inputs)], {str(edited)}) == []


def test_only_prunes_run_again_are_checked_against_the_models_config(tmp_path,
                                                                     small_random_model):
    settings = {"method": "depth_mag", "size": "0.8", "params": {"protect_first": 3,
                                                                 "protect_last": 1}}
    new = job("prune", [tmp_path / "new"], settings=settings)
    assert prune_problems([new], unknown_config) == []  # a new cell has nothing to lose
    old = tmp_path / "checkpoint"
    old.mkdir()
    again = job("prune", [old], settings=settings)
    config = small_random_model().config  # 4 blocks: 3 + 1 protected leave none
    [line] = prune_problems([again], lambda model: config)
    assert line.startswith("prune m/depth_mag-0.8: protect_first=3 and protect_last=1 leave no "
                           "removable block")
    assert f"its checkpoint made before, {old}, would be removed first" in line
    assert prune_problems([again], lambda model: None) == []  # the base not known: its job says
    fine = job("prune", [old], settings={**settings, "params": {}, "method": "depth_ppl"})
    assert prune_problems([fine], lambda model: config) == []


def test_a_local_import_run_again_from_a_folder_gone_is_refused_naming_the_copy(tmp_path):
    copy = tmp_path / "resources" / "models" / "m"
    copy.mkdir(parents=True)
    # The folder comes from the run's config: no param of the import (moving it reruns nothing).
    jobs = [PendingJob("local_model", {"model": "m"}, {"files": {}}, (str(copy),))]
    with pytest.raises(PrunebenchError) as err:
        check_pending(jobs, no_model_dir, jobs_run_here=True, gpu=False,
                      local_folders={"m": str(tmp_path / "gone")})
    assert "no such folder" in str(err.value)
    assert f"the copy made before, {copy}, would be removed first" in str(err.value)


def test_a_prune_is_checked_against_the_base_it_will_see(tmp_path, small_random_model,
                                                         small_tokenizer):
    base = tmp_path / "resources" / "models" / "m"
    small_random_model().save_pretrained(base)  # on disk: 4 blocks
    old = tmp_path / "checkpoint"
    old.mkdir()
    settings = {"method": "depth_mag", "size": "0.8", "params": {"protect_first": 3,
                                                                 "protect_last": 1}}
    again = job("prune", [old], settings=settings)
    with pytest.raises(PrunebenchError, match="leave no removable block out of 4"):
        check_pending([again], lambda model: str(base), jobs_run_here=True, gpu=False)
    # The base downloaded again in this run (another revision): the prune will see that one,
    # known once it is there, so the copy on disk does not judge it.
    remade = PendingJob("model", {"model": "m"}, {}, (str(base),))
    check_pending([remade, again], lambda model: str(base), jobs_run_here=True, gpu=False)
    # Imported again from another local folder: that folder's config judges it, both ways.
    for blocks, refused in ((8, False), (3, True)):
        folder = tmp_path / f"local{blocks}"
        small_random_model(num_hidden_layers=blocks).save_pretrained(folder)
        small_tokenizer.save_pretrained(folder)
        imported = PendingJob("local_model", {"model": "m"}, {"files": {}}, (str(base),))
        check = functools.partial(check_pending, [imported, again], lambda model: str(base),
                                  jobs_run_here=True, gpu=False,
                                  local_folders={"m": str(folder)})
        if refused:
            with pytest.raises(PrunebenchError, match="leave no removable block out of 3"):
                check()
        else:
            check()


def test_jobs_that_would_write_in_a_folder_this_user_cannot_write_are_refused(tmp_path,
                                                                           monkeypatch):
    """Snakemake stopped with a traceback of its own when it could not remove a rerun's old
    outputs (a results folder made read-only). Each folder is probed by writing a file in it,
    as permission bits do not tell (root writes anywhere but on an immutable folder or a
    read-only mount), so the refusal is played here by the probe."""
    locked, fine = tmp_path / "results" / "eval" / "m", tmp_path / "results" / "bench"
    locked.mkdir(parents=True)
    fine.mkdir(parents=True)
    (locked / "zeroshot.json").write_text("{}")
    real = pending.tempfile.NamedTemporaryFile

    def probe(*args, dir, **kwargs):
        if Path(dir) == locked:
            raise PermissionError(1, "Operation not permitted")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(pending.tempfile, "NamedTemporaryFile", probe)
    jobs = [job("zeroshot", [locked / "zeroshot.json", locked / "lm_eval.json"]),
            job("perplexity", [locked / "sub" / "ppl.json"]),  # made in the nearest that exists
            job("benchmark", [fine / "m" / "x.json"]), job("aggregate")]
    [line] = unwritable_folder_problems(jobs)
    assert line.startswith(f"{locked} cannot be written by this user (Operation not permitted), "
                           "and 2 job(s) about to run write there (zeroshot m/depth_mag-0.8, "
                           "perplexity m/depth_mag-0.8): ")
    assert line.endswith("make it writable, or run where results/ and resources/ can be written")
    with pytest.raises(PrunebenchError, match="1 problem.*before any job started"):
        check_pending(jobs, no_model_dir, jobs_run_here=True, gpu=True)
    assert unwritable_folder_problems(jobs[2:]) == []
    assert sorted(p.name for p in fine.iterdir()) == []  # the probe leaves nothing


def test_a_full_disk_an_unsearchable_folder_and_an_emptied_folder_output_are_said(tmp_path,
                                                                               monkeypatch):
    import errno

    full, checkpoint = tmp_path / "full", tmp_path / "cell" / "checkpoint"
    full.mkdir()
    checkpoint.mkdir(parents=True)
    real = pending.tempfile.NamedTemporaryFile
    refusals = {full: OSError(errno.ENOSPC, "No space left on device"),
                checkpoint: PermissionError(13, "Permission denied")}

    def probe(*args, dir, **kwargs):
        if Path(dir) in refusals:
            raise refusals[Path(dir)]
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(pending.tempfile, "NamedTemporaryFile", probe)
    # A folder output made before, which Snakemake empties: probed inside, not only beside.
    lines = unwritable_folder_problems([job("benchmark", [full / "x.json"]),
                                        job("prune", [checkpoint, checkpoint.parent / "r.json"])])
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{checkpoint} cannot be written by this user (Permission "
                               "denied)"), lines
    assert lines[1].startswith(f"{full} cannot be written by this user (No space left on "
                               "device)") and lines[1].endswith(": free space on its disk")

    # A folder above the output that this user cannot search: Path.exists raises there.
    def unsearchable(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pending.Path, "exists", unsearchable)
    [line] = unwritable_folder_problems([job("benchmark", [tmp_path / "a" / "b.json"])])
    assert line.startswith(f"{tmp_path / 'a' / 'b.json'}: a folder above it cannot be "
                           "searched by this user (Permission denied)")


def test_checking_the_prunes_run_again_imports_no_torch(tmp_path, small_random_model):
    """Snakemake's start checks size a prune run again from config.json alone: no torch import
    (seconds) before a run whose jobs may not need it."""
    import subprocess
    import sys

    base = tmp_path / "base"
    small_random_model().save_pretrained(base)  # 4 blocks
    old = tmp_path / "checkpoint"
    old.mkdir()
    script = f"""
import sys
from prunebench import PrunebenchError
from prunebench.plan.pending import PendingJob, check_pending
settings = {{"method": "depth_ppl", "size": "0.8",
            "params": {{"protect_first": 3, "protect_last": 1}}}}
again = PendingJob("prune", {{"model": "m", "variant": "depth_ppl-0.8"}}, {{"settings": settings}},
                   ({str(old)!r},), ())
try:
    check_pending([again], lambda model: {str(base)!r}, jobs_run_here=True, gpu=False)
except PrunebenchError as err:
    print("refused:", "leave no removable block out of 4" in str(err))
print("torch:", "torch" in sys.modules, "transformers:", "transformers" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["refused: True", "torch: False transformers: False"]


def test_a_benchmark_asked_for_by_name_with_a_token_config_it_cannot_run_is_refused(
        small_random_model):
    """`snakemake results/bench/tiny/dense/hf/12x0.json` passed (no config check sees a named
    file's token config) and stopped in its benchmark job, after the model's training."""
    def bench(lin, lout, rule="benchmark"):
        return PendingJob(rule, {"model": "m", "variant": "dense", "backend": "hf",
                                 "lin": str(lin), "lout": str(lout)}, {},
                          (f"results/bench/m/dense/hf/{lin}x{lout}.json",))

    config = small_random_model().config  # a context of 256 tokens
    [line] = token_config_problems([bench(12, 0)], unknown_config)  # said with no model known
    assert line == ("results/bench/m/dense/hf/12x0.json: token config 12x0 generates nothing: "
                    "input and output need at least 1 token each (e.g. 12x128): ask for "
                    "another file")
    [line] = token_config_problems([bench(200, 100, "paired_benchmark")], lambda m: config)
    assert "200 + 100 tokens exceed the model's context of 256 tokens" in line
    assert token_config_problems([bench(12, 128)], lambda m: config) == []
    assert token_config_problems([bench(200, 100)], lambda m: None) == []  # not known yet
    with pytest.raises(PrunebenchError, match="nothing was run or removed"):
        check_pending([bench(0, 32)], no_model_dir, jobs_run_here=True, gpu=False)
