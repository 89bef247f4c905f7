"""LoRA recovery: data, prompt masking, best-by-validation, merging, shapes, settings, workflow."""
import functools
import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from prunebench import PrunebenchError, lora
from prunebench.methods import surgery
from prunebench.data import calibration_windows, load_rows
from prunebench.evaluate import perplexity
from prunebench.instructions import (IGNORE_INDEX, collate, embedded_records, encode_record,
                                     encode_records, format_prompt, read_records, split_records,
                                     write_records)
from prunebench.modeling import (ZeroHeadAttention, count_params, load_config, load_model,
                                 load_tokenizer, save_model)
from prunebench import pruning
from prunebench.pruning import prune_checkpoint
from prunebench.tiny import encode_text


# A short recovery that still moves the tiny model: a higher lr than the study's 1e-4.
FAST = {"data": {"source": "embedded", "val_size": 16, "max_train": 96, "seed": 42},
        "template": "plain", "epochs": 1, "lr": 2e-3, "batch_size": 16, "micro_batch_size": 8,
        "max_length": 96, "warmup_steps": 1, "eval_every": 2, "log_every": 2, "seed": 0}
# Smaller still, where only the mechanics are checked.
TINY_RUN = {**FAST, "data": {**FAST["data"], "val_size": 8, "max_train": 16},
            "batch_size": 8, "micro_batch_size": 4, "max_length": 48}


@pytest.fixture(scope="module")
def records(embedded_corpus):
    return embedded_records((embedded_corpus / "train.txt").read_text(), seed=0)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return load_tokenizer(tiny_model_dir)


@pytest.fixture(scope="module")
def test_stream(embedded_corpus, tokenizer):
    return encode_text(tokenizer, (embedded_corpus / "test.txt").read_text())


def held_out_ppl(path, stream):
    return perplexity(load_model(path), stream, window=128, batch_size=16,
                      max_windows=24)["perplexity"]


@pytest.fixture(scope="module")
def recovered(tiny_model_dir, embedded_corpus, tokenizer, records, tmp_path_factory):
    """The tiny model depth-pruned to 60% (3 of 8 blocks), then recovered with FAST."""
    root = tmp_path_factory.mktemp("lora")
    windows = calibration_windows(load_rows("embedded", "train", embedded_corpus), tokenizer,
                                  n=10, length=128, seed=1234, wrap_rows=True)
    prune_checkpoint(tiny_model_dir, "depth_ppl", "0.6", root / "pruned", windows)
    report = lora.recover_checkpoint(root / "pruned", root / "recovered", records, FAST,
                                     device="cpu")
    return {"pruned": root / "pruned", "recovered": root / "recovered", "report": report}


# --------------------------------------------------------------------------- recovery


def test_the_report_names_the_records_trained_on(recovered, records):
    """A hub dataset fetched at its newest may change: the digest of the records says which."""
    digest = hashlib.sha256(json.dumps(records, sort_keys=True, ensure_ascii=False).encode())
    assert recovered["report"]["records_sha256"] == digest.hexdigest()
    assert recovered["report"]["records"] == len(records)


def test_recovery_never_raises_the_validation_loss(recovered, records, tokenizer, test_stream):
    """The best evaluation is merged and step 0 (the base itself) is one of them, so recovery
    keeps or lowers the validation loss: measured here on the saved checkpoints, pruned and
    recovered, over the recovery's own validation records, both in float32 on this thread
    count. How much lower, and what it does to another text's perplexity, depends on the run
    (that a base no adapter beats is kept unchanged: test_no_improvement_keeps_the_base_model)."""
    report = recovered["report"]
    assert report["best_val_loss"] <= report["initial_val_loss"]
    assert report["merged_val_loss"] == pytest.approx(report["best_val_loss"], rel=1e-5)
    s = lora.resolve_settings(FAST)
    _, val = split_records(records, int(s["data"]["val_size"]), int(s["data"]["seed"]),
                           s["data"].get("max_train"), s["data"].get("split"))
    examples = encode_records(val, tokenizer, s["template"], int(s["max_length"]), "validation")

    def validation_loss(path) -> float:
        return lora.validation_loss(load_model(path, dtype=torch.float32), examples,
                                    int(s["micro_batch_size"]), tokenizer.pad_token_id or 0,
                                    torch.device("cpu"),
                                    weighting=s.get("loss_weighting") or "tokens")

    pruned, recovered_loss = validation_loss(recovered["pruned"]), validation_loss(
        recovered["recovered"])
    # Float32 rounding bounds every step below: merging rounds each weight by about 6e-8 of
    # itself, and this thread count may sum otherwise than training's (on this machine the
    # losses measured here equal the report's to the last bit). 1e-5 of a loss is a hundred
    # times that, and any margin an adapter won by is on top of it.
    rounding = 1e-5
    # the checkpoints measured here are the ones the report measured, before and after
    assert pruned == pytest.approx(report["initial_val_loss"], rel=rounding)
    assert recovered_loss == pytest.approx(report["merged_val_loss"], rel=rounding)
    # so the report's exact best <= initial carries over, up to those three roundings
    assert recovered_loss <= pruned * (1 + 3 * rounding)
    assert math.isfinite(held_out_ppl(recovered["recovered"], test_stream))


def test_best_adapter_by_validation_loss_is_merged(recovered):
    report = recovered["report"]
    history = report["history"]
    steps = report["steps"]
    assert steps >= 4 and [h["step"] for h in history] == sorted({*range(0, steps + 1, 2), steps})
    best = min(history, key=lambda h: h["val_loss"])
    assert (report["best_step"], report["best_val_loss"]) == (best["step"], best["val_loss"])
    # the saved model is the best adapter merged: its validation loss is the best one
    assert report["merged_val_loss"] == pytest.approx(report["best_val_loss"], rel=1e-5)


def test_a_float32_checkpoints_saved_loss_is_its_merged_loss(recovered):
    report = recovered["report"]
    assert report["saved_dtype"] == "float32"
    assert report["saved_val_loss"] == report["merged_val_loss"]


def test_merged_checkpoint_is_plain_and_keeps_the_pruned_shape(recovered):
    out, pruned = recovered["recovered"], recovered["pruned"]
    config_text = (out / "config.json").read_text().lower()
    assert "lora" not in config_text and "peft" not in config_text
    for file in out.glob("*.safetensors"):
        with safe_open(str(file), framework="pt") as fh:
            assert not [k for k in fh.keys() if "lora" in k or "base_layer" in k]
    assert not list(out.glob("adapter_*"))
    assert count_params(load_config(out)) == count_params(load_config(pruned))
    assert load_config(out).num_hidden_layers == 5
    base, merged = load_model(pruned), load_model(out)
    changed = [n for n, p in merged.named_parameters()
               if not torch.equal(p, dict(base.named_parameters())[n])]
    # the weights move exactly when an adapter beat the base on validation
    assert bool(changed) == (recovered["report"]["best_step"] > 0), changed
    assert all(n.endswith("proj.weight") for n in changed), changed


def test_merged_checkpoint_loads_without_peft(recovered, tmp_path):
    """A fresh interpreter where `import peft` fails loads and runs the recovered model."""
    ids = [[1, 5, 9, 30, 31, 7]]
    expected = load_model(recovered["recovered"])(torch.tensor(ids)).logits
    code = (
        "import sys, json, torch\n"
        "sys.modules['peft'] = None  # any import of peft now raises ImportError\n"
        "from prunebench.modeling import load_model\n"
        f"m = load_model({str(recovered['recovered'])!r})\n"
        f"print(json.dumps(m(torch.tensor({ids})).logits.flatten().tolist()))\n"
        "assert 'peft' not in [k for k, v in sys.modules.items() if v is not None]\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    got = torch.tensor(json.loads(out.stdout.strip().splitlines()[-1]))
    assert torch.allclose(got, expected.flatten(), atol=1e-5)


def test_best_is_an_earlier_adapter_when_validation_turns_worse(tiny_model_dir, tokenizer,
                                                                records, monkeypatch):
    """Validation losses scripted to bottom out at step 2: the merged weights are exactly the
    base plus the adapter as it was at step 2, not the last one."""
    settings = lora.resolve_settings({**TINY_RUN, "eval_every": 1, "max_length": 128})
    train, val = split_records(records, 8, 42, max_train=32)  # 4 steps of 8
    scripted = iter([1.0, 0.9, 0.5] + [0.7] * 10)  # steps 0, 1, 2, ..., then the merged model
    snapshots = {}
    real_state = lora.trainable_state

    def fake_validation_loss(model, *args, **kwargs):
        value = next(scripted)
        if any("lora_" in n for n, _ in model.named_parameters()):
            snapshots[len(snapshots)] = real_state(model)  # the adapter at this evaluation
        return value

    monkeypatch.setattr(lora, "validation_loss", fake_validation_loss)
    base = load_model(tiny_model_dir)
    merged, report = lora.train_lora(load_model(tiny_model_dir), tokenizer, train, val,
                                     settings, torch.device("cpu"))
    assert report["steps"] == 4 and [h["step"] for h in report["history"]] == [0, 1, 2, 3, 4]
    assert report["best_step"] == 2 and report["best_val_loss"] == 0.5
    at_best = snapshots[2]
    scale = settings["alpha"] / settings["r"]
    prefix = "base_model.model.model.layers.3.mlp.down_proj"
    a, b = at_best[f"{prefix}.lora_A.default.weight"], at_best[f"{prefix}.lora_B.default.weight"]
    w0 = base.model.layers[3].mlp.down_proj.weight
    assert not torch.equal(snapshots[2][f"{prefix}.lora_B.default.weight"],
                           snapshots[4][f"{prefix}.lora_B.default.weight"])
    assert torch.allclose(merged.model.layers[3].mlp.down_proj.weight, w0 + scale * b @ a,
                          atol=1e-6)


@pytest.mark.parametrize("save_every, best_step, best_loss", [
    (None, 0, 0.1),  # every evaluation a candidate, the base model (step 0) too: the lowest
    (2, 2, 0.5),     # saves at steps 2 and 4 only (the study's Trainer): the lower of those
    (8, 4, 0.8),     # no evaluation at a save in 4 steps: the last adapter, as the Trainer keeps
])
def test_save_every_chooses_among_the_saved_steps_only(tiny_model_dir, tokenizer, records,
                                                       monkeypatch, caplog, save_every,
                                                       best_step, best_loss):
    settings = lora.resolve_settings({**TINY_RUN, "eval_every": 1, "max_length": 128,
                                      **({"save_every": save_every} if save_every else {})})
    train, val = split_records(records, 8, 42, max_train=32)  # 4 steps of 8
    # validation losses at steps 0, 1, 2, 3, 4, then of the merged model
    scripted = iter([0.1, 0.3, 0.5, 0.2, 0.8, 0.0])
    monkeypatch.setattr(lora, "validation_loss", lambda *args, **kwargs: next(scripted))
    _, report = lora.train_lora(load_model(tiny_model_dir), tokenizer, train, val, settings,
                                torch.device("cpu"))
    assert report["steps"] == 4
    assert (report["best_step"], report["best_val_loss"]) == (best_step, best_loss)
    assert report["initial_val_loss"] == 0.1
    assert ("adapter of the last step is kept" in caplog.text) is (save_every == 8)


def test_keep_last_keeps_the_last_steps_adapter_as_the_studys_run(tiny_model_dir, tokenizer,
                                                                    records, monkeypatch):
    """The study's Trainer meant to reload its best save, but the saved adapter's names matched
    none of the model's and nothing loaded: its merged model has the last step's adapter.
    Validation losses scripted to bottom out at step 2: keep: last merges step 4's."""
    settings = lora.resolve_settings({**TINY_RUN, "eval_every": 1, "max_length": 128,
                                      "keep": "last"})
    train, val = split_records(records, 8, 42, max_train=32)  # 4 steps of 8
    scripted = iter([1.0, 0.9, 0.5, 0.7, 0.8, 0.0])  # steps 0..4, then the merged model
    adapters = {}

    def fake_validation_loss(model, *args, **kwargs):
        if any("lora_" in n for n, _ in model.named_parameters()):
            adapters[len(adapters)] = lora.trainable_state(model)  # the adapter at step N (0..4)
        return next(scripted)

    monkeypatch.setattr(lora, "validation_loss", fake_validation_loss)
    base = load_model(tiny_model_dir)
    merged, report = lora.train_lora(load_model(tiny_model_dir), tokenizer, train, val,
                                     settings, torch.device("cpu"))
    assert (report["best_step"], report["best_val_loss"]) == (4, 0.8)
    assert report["settings"]["keep"] == "last"
    scale = settings["alpha"] / settings["r"]
    prefix = "base_model.model.model.layers.3.mlp.down_proj"
    a, b = (adapters[4][f"{prefix}.lora_{x}.default.weight"] for x in "AB")
    assert not torch.equal(b, adapters[2][f"{prefix}.lora_B.default.weight"])
    assert torch.allclose(merged.model.layers[3].mlp.down_proj.weight,
                          base.model.layers[3].mlp.down_proj.weight + scale * b @ a, atol=1e-6)
    # keep: best (the same as left out) merges the lowest, step 2's
    assert lora.resolve_settings({"keep": None}) == lora.resolve_settings({})
    scripted = iter([1.0, 0.9, 0.5, 0.7, 0.8, 0.0])
    _, best = lora.train_lora(load_model(tiny_model_dir), tokenizer, train, val,
                              {**settings, "keep": "best"}, torch.device("cpu"))
    assert (best["best_step"], best["best_val_loss"]) == (2, 0.5)


def test_save_every_null_is_save_every_left_out():
    # the same settings, so the same lora params: a config writing it reruns nothing
    assert lora.resolve_settings({"save_every": None}) == lora.resolve_settings({})
    assert "save_every" not in lora.resolve_settings({"save_every": None})
    assert lora.resolve_settings({"data": {"split": None}}) == lora.resolve_settings({})
    assert "split" not in lora.resolve_settings({"data": {"split": None}})["data"]
    assert lora.resolve_settings({"data": {"split": "train_test_split"}})["data"]["split"] == (
        "train_test_split")


def test_a_base_model_without_a_finite_loss_stays_the_best_without_save_every(
        tiny_model_dir, tokenizer, records, monkeypatch, caplog):
    settings = lora.resolve_settings({**TINY_RUN, "eval_every": 1, "max_length": 128})
    train, val = split_records(records, 8, 42, max_train=32)  # 4 steps of 8
    monkeypatch.setattr(lora, "validation_loss", lambda *args, **kwargs: math.inf)
    _, report = lora.train_lora(load_model(tiny_model_dir), tokenizer, train, val, settings,
                                torch.device("cpu"))
    assert report["best_step"] == 0 and "adapter of the last step" not in caplog.text


def test_no_improvement_keeps_the_base_model(tiny_model_dir, tokenizer, records):
    """An lr that wrecks the model: the best evaluation is step 0, the base weights unchanged."""
    settings = lora.resolve_settings({**TINY_RUN, "lr": 5.0, "warmup_steps": 0,
                                      "max_grad_norm": 0})
    train, val = split_records(records, 8, 42, max_train=16)
    base = load_model(tiny_model_dir)
    merged, report = lora.train_lora(load_model(tiny_model_dir), tokenizer, train, val, settings,
                                     torch.device("cpu"))
    assert report["best_step"] == 0
    # worse (or not even finite) after every step
    assert all(not h["val_loss"] <= report["initial_val_loss"] for h in report["history"][1:])
    for name, p in merged.state_dict().items():
        assert torch.equal(p, base.state_dict()[name]), name


def test_recovery_is_deterministic_on_cpu(tiny_model_dir, tokenizer, records):
    settings = lora.resolve_settings(TINY_RUN)
    train, val = split_records(records, 8, 42, max_train=16)
    runs = [lora.train_lora(load_model(tiny_model_dir), tokenizer, train, val, settings,
                            torch.device("cpu")) for _ in range(2)]
    assert runs[0][1]["history"] == runs[1][1]["history"]
    first, second = runs[0][0].state_dict(), runs[1][0].state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


# Two epochs of four steps, with dropout: a resume must continue the shuffle, the dropout
# masks, the optimizer and the best adapter exactly.
RESUMABLE = {**TINY_RUN, "epochs": 2, "eval_every": 3, "dropout": 0.1, "max_length": 128,
             "lr": 5e-4, "data": {**TINY_RUN["data"], "max_train": 32}}


# Under float16 autocast (the study's setting on a GPU; slow on a CPU, hence short) the loss
# scaler changes its scale every step (growth_interval=1: it grows until gradients overflow,
# skips that step and backs off), so a resume that lost the scaler's state would scale, round
# and skip differently from the uninterrupted run.
FLOAT16_RESUMABLE = {**TINY_RUN, "amp": "float16",
                     "data": {**TINY_RUN["data"], "max_train": 24}}


@pytest.mark.parametrize("killed_after, amp", [
    (4, "none"),  # at an epoch's end
    (5, "none"),  # inside the second epoch
    (1, "float16"),  # after its first step (of two)
])
def test_a_killed_recovery_resumes_where_it_saved_and_ends_as_an_uninterrupted_one(
        tiny_model_dir, records, tmp_path, monkeypatch, caplog, killed_after, amp):
    """A pre-empted job of the study's recovery (hours on a 7B model) started from step 0."""
    settings = RESUMABLE if amp == "none" else FLOAT16_RESUMABLE
    if amp == "float16":
        monkeypatch.setattr(torch.amp, "GradScaler",
                            functools.partial(torch.amp.GradScaler, growth_interval=1))
    # The adapters each validation saw, per run: the last step is always validated, so the last
    # adapters seen (the merged model has none) are those its training ended with, whichever
    # step's adapter was kept as the best (the base's, step 0, where none improved on it).
    adapters: list[list[dict]] = []
    real_validation = lora.validation_loss

    def validation_loss(model, *args, **kwargs):
        seen = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}
        if seen:
            adapters[-1].append(seen)
        return real_validation(model, *args, **kwargs)

    monkeypatch.setattr(lora, "validation_loss", validation_loss)
    adapters.append([])
    reference = lora.recover_checkpoint(tiny_model_dir, tmp_path / "reference", records,
                                        settings, device="cpu")
    assert reference["amp"] == (None if amp == "none" else amp)
    assert reference["resumed_at_steps"] == []
    if amp == "none":
        # Trained adapters are compared below, not untouched ones: every step moves them (a
        # float16 step may be skipped by the loss scaler, so there only the comparison holds).
        first, last = adapters[0][0], adapters[0][-1]
        assert any(not torch.equal(last[n], first[n]) for n in first)
    out = tmp_path / "recovered"
    progress = lora.progress_path_for(out)
    monkeypatch.setenv(lora.SAVE_EVERY_VARIABLE, "0")  # a save after every step
    real_save = lora._save_progress

    def save_then_die(path, fingerprint, at, *args):
        real_save(path, fingerprint, at, *args)
        if at["step"] == killed_after:
            raise KeyboardInterrupt  # the job killed right after this save

    adapters.append([])
    with monkeypatch.context() as patch:
        patch.setattr(lora, "_save_progress", save_then_die)
        with pytest.raises(KeyboardInterrupt):
            lora.recover_checkpoint(tiny_model_dir, out, records, settings, device="cpu")
    assert progress.exists() and not out.exists()
    if amp == "float16":
        # The step doubled or halved the scale: it is not its initial 2**16, and a resume that
        # lost it would not end as the reference.
        with safe_open(str(progress), framework="pt") as saved:
            assert json.loads(saved.metadata()["progress"])["scaler"]["scale"] != 2.0**16
    caplog.clear()  # the runs above may have been logged too (another test set INFO)
    adapters.append([])
    deferred: list[Path] = []
    monkeypatch.setattr(lora, "delete_at_successful_exit", deferred.append)
    with caplog.at_level("INFO", logger="prunebench.lora"):
        resumed = lora.recover_checkpoint(tiny_model_dir, out, records, settings, device="cpu")
    said = [r.getMessage() for r in caplog.records if r.name == "prunebench.lora"]
    assert any(f"resuming the LoRA recovery at step {killed_after} of {reference['steps']}"
               in line for line in said), said
    assert not any("step 0: validation loss" in line for line in said)  # not started over
    assert reference["steps"] > killed_after
    assert resumed["history"] == reference["history"]
    assert resumed["best_step"] == reference["best_step"]
    assert resumed["resumed_at_steps"] == [killed_after]
    # The adapters the resumed run's last step ended with are the uninterrupted run's.
    mine, theirs = adapters[-1][-1], adapters[0][-1]
    assert mine.keys() == theirs.keys() and theirs
    assert all(torch.equal(mine[n], theirs[n]) for n in theirs)
    mine, theirs = load_model(out).state_dict(), load_model(tmp_path / "reference").state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)
    # Kept until the process ends well (atomic.delete_at_successful_exit): the workflow's
    # script writes the report after this returns, and a failure there resumes from the last
    # save (it restarted from step 0).
    assert progress.exists() and deferred == [progress]


@pytest.mark.parametrize("terminated_in", [3, 8])  # inside the first epoch; the last step
def test_sigterm_saves_the_recovery_at_the_steps_end_and_the_rerun_resumes_there(
        tiny_model_dir, records, tmp_path, monkeypatch, terminated_in):
    """A batch system's pre-emption or time limit sends SIGTERM, then SIGKILL after a grace
    period: the recovery lost everything since its last timed save (up to 10 minutes); it now
    ends the step under way, saves there and stops, and the rerun ends as an uninterrupted
    run. No timed save falls in this short run: the SIGTERM's is the only one."""
    import os
    import signal

    from prunebench.logs import Terminated

    reference = lora.recover_checkpoint(tiny_model_dir, tmp_path / "reference", records,
                                        RESUMABLE, device="cpu")
    assert reference["steps"] == 8
    out = tmp_path / "recovered"
    progress = lora.progress_path_for(out)
    real_factor = lora._lr_factor

    def terminate_during_the_step(step, *args):
        if step == terminated_in - 1:  # the completed steps so far, as the step begins
            os.kill(os.getpid(), signal.SIGTERM)
        return real_factor(step, *args)

    handler = signal.getsignal(signal.SIGTERM)
    with monkeypatch.context() as patch:
        patch.setattr(lora, "_lr_factor", terminate_during_the_step)
        with pytest.raises(Terminated):
            lora.recover_checkpoint(tiny_model_dir, out, records, RESUMABLE, device="cpu")
    assert signal.getsignal(signal.SIGTERM) == handler  # given back
    assert progress.exists() and not out.exists()
    resumed = lora.recover_checkpoint(tiny_model_dir, out, records, RESUMABLE, device="cpu")
    assert resumed["resumed_at_steps"] == [terminated_in]
    assert resumed["history"] == reference["history"]
    assert resumed["best_step"] == reference["best_step"]
    mine, theirs = load_model(out).state_dict(), load_model(tmp_path / "reference").state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)


@pytest.mark.parametrize("validation, step", [(2, 3), (4, 8)])  # inside the run; the last step
def test_sigterm_during_a_validation_cuts_it_short_and_the_rerun_runs_it(
        tiny_model_dir, records, tmp_path, monkeypatch, validation, step):
    """A validation of the study's 2000 records on a 13B model may outlast a batch system's
    grace period after SIGTERM: it ran to its end before the progress was saved. Now it stops
    at the next micro-batch, the progress is saved with the validation left to run, and the
    rerun runs it first and ends as an uninterrupted run."""
    import os
    import signal

    from prunebench.logs import Terminated

    reference = lora.recover_checkpoint(tiny_model_dir, tmp_path / "reference", records,
                                        RESUMABLE, device="cpu")
    assert [h["step"] for h in reference["history"]] == [0, 3, 6, 8]
    out = tmp_path / "recovered"
    seen = {"validations": 0, "forwards": 0}
    real_validation, real_loss = lora.validation_loss, lora.response_loss

    def counted_validation(*args, **kwargs):
        seen["validations"] += 1
        seen["forwards"] = 0
        return real_validation(*args, **kwargs)

    def loss(model, batch):
        if not model.training:  # a validation's micro-batch (two of 4 records each)
            seen["forwards"] += 1
            if seen["validations"] == validation and seen["forwards"] == 1:
                os.kill(os.getpid(), signal.SIGTERM)
        return real_loss(model, batch)

    with monkeypatch.context() as patch:
        patch.setattr(lora, "validation_loss", counted_validation)
        patch.setattr(lora, "response_loss", loss)
        with pytest.raises(Terminated):
            lora.recover_checkpoint(tiny_model_dir, out, records, RESUMABLE, device="cpu")
    assert seen["validations"] == validation and seen["forwards"] == 1  # cut after one of two
    with safe_open(str(lora.progress_path_for(out)), framework="pt") as saved:
        at = json.loads(saved.metadata()["progress"])
    assert at["step"] == step and at["pending_lr"] == reference["history"][validation - 1]["lr"]
    assert [h["step"] for h in at["history"]] == [0, 3, 6, 8][:validation - 1]
    # a SIGTERM in the resumed run's first act, that validation: still left to run, and this
    # resume counted
    seen.update(validations=validation - 1, forwards=0)
    with monkeypatch.context() as patch:
        patch.setattr(lora, "validation_loss", counted_validation)
        patch.setattr(lora, "response_loss", loss)
        with pytest.raises(Terminated):
            lora.recover_checkpoint(tiny_model_dir, out, records, RESUMABLE, device="cpu")
    resumed = lora.recover_checkpoint(tiny_model_dir, out, records, RESUMABLE, device="cpu")
    assert resumed["resumed_at_steps"] == [step, step]
    assert resumed["history"] == reference["history"]
    mine, theirs = load_model(out).state_dict(), load_model(tmp_path / "reference").state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)


def test_a_recovery_stopped_after_its_last_step_resumes_at_the_merge(tiny_model_dir, records,
                                                                      tmp_path, monkeypatch):
    """The training's end is saved: a job stopped in the merge or its validations (one of the
    merged weights, one as saved) retrained from its last timed save, up to 10 minutes."""
    reference = lora.recover_checkpoint(tiny_model_dir, tmp_path / "reference", records,
                                        RESUMABLE, device="cpu")
    out = tmp_path / "recovered"
    real_validation = lora.validation_loss

    def killed_at_the_merged_models(model, *args, **kwargs):
        if not any("lora_" in n for n, _ in model.named_parameters()):
            raise KeyboardInterrupt  # the job killed in the merged model's validation
        return real_validation(model, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(lora, "validation_loss", killed_at_the_merged_models)
        with pytest.raises(KeyboardInterrupt):
            lora.recover_checkpoint(tiny_model_dir, out, records, RESUMABLE, device="cpu")
    trained = []
    real_loss = lora.response_loss

    def counted(model, batch):
        trained.extend([1] if model.training else [])
        return real_loss(model, batch)

    monkeypatch.setattr(lora, "response_loss", counted)
    resumed = lora.recover_checkpoint(tiny_model_dir, out, records, RESUMABLE, device="cpu")
    assert resumed["resumed_at_steps"] == [reference["steps"]] and not trained
    assert resumed["history"] == reference["history"]
    mine, theirs = load_model(out).state_dict(), load_model(tmp_path / "reference").state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)


def test_gradient_checkpointing_changes_memory_not_the_recovery(tiny_model_dir, records,
                                                                 tmp_path, monkeypatch):
    """What lets it reach the job outside its params (plan.variants.MEMORY_ONLY): recomputed
    activations, dropout masks included, are the ones computed the first time, so a recovery
    killed out of memory resumes with it turned on and ends as the run without it (up to the
    rounding of a recomputation)."""
    settings = lora.resolve_settings(RESUMABLE)
    reference = lora.recover_checkpoint(tiny_model_dir, tmp_path / "reference", records,
                                        settings, device="cpu")
    out = tmp_path / "recovered"
    monkeypatch.setenv(lora.SAVE_EVERY_VARIABLE, "0")  # a save after every step
    real_save = lora._save_progress

    def save_then_die(path, fingerprint, at, *args):
        real_save(path, fingerprint, at, *args)
        if at["step"] == 2:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(lora, "_save_progress", save_then_die)
        with pytest.raises(KeyboardInterrupt):
            lora.recover_checkpoint(tiny_model_dir, out, records, settings, device="cpu")
    # Resumed with checkpointing on, and logging more often (what the log says, not what is
    # trained): neither starts the saved recovery over.
    resumed = lora.recover_checkpoint(
        tiny_model_dir, out, records,
        {**settings, "gradient_checkpointing": True, "log_every": settings["log_every"] + 1},
        device="cpu")
    assert resumed["resumed_at_steps"] == [2]  # resumed, not started over
    assert [h["step"] for h in resumed["history"]] == [h["step"] for h in reference["history"]]
    for mine, theirs in zip(resumed["history"], reference["history"]):
        for key in ("train_loss", "val_loss"):
            assert (mine.get(key) is None) == (theirs.get(key) is None)
            if theirs.get(key) is not None:
                assert mine[key] == pytest.approx(theirs[key], rel=1e-4)
    mine, theirs = load_model(out).state_dict(), load_model(tmp_path / "reference").state_dict()
    assert all(torch.allclose(mine[k], theirs[k], rtol=1e-4, atol=1e-6) for k in theirs)


@pytest.mark.parametrize("saved", ["other settings", "another shape", "damaged"])
def test_a_saved_progress_of_another_recovery_or_damaged_is_started_over(
        tiny_model_dir, tokenizer, records, tmp_path, monkeypatch, caplog, saved):
    settings = lora.resolve_settings({**TINY_RUN, "max_length": 128})
    train, val = split_records(records, 8, 42, max_train=16)  # 2 steps of 8
    progress = tmp_path / ".out.lora-unfinished.safetensors"
    if saved == "damaged":
        progress.write_bytes(b"not a safetensors file")
    else:
        monkeypatch.setenv(lora.SAVE_EVERY_VARIABLE, "0")
        with monkeypatch.context() as patch:
            def die(*args):
                raise KeyboardInterrupt

            patch.setattr(lora, "validation_loss", lambda *a, **k: 1.0)
            patch.setattr(lora, "_lr_factor", lambda step, *a: die() if step == 1 else 1.0)
            # "another shape": the same fingerprint (as after a peft update that named or
            # shaped the adapters otherwise), adapters of another rank
            first = {**settings, "r": 4} if saved == "another shape" else settings
            with pytest.raises(KeyboardInterrupt):
                lora.train_lora(load_model(tiny_model_dir), tokenizer, train, val, first,
                                torch.device("cpu"), progress,
                                fingerprint="this recovery" if saved == "another shape"
                                else "another recovery")
        assert progress.exists()
        monkeypatch.delenv(lora.SAVE_EVERY_VARIABLE)
    with caplog.at_level("WARNING", logger="prunebench.lora"):
        _, report = lora.train_lora(load_model(tiny_model_dir), tokenizer, train, val, settings,
                                    torch.device("cpu"), progress, fingerprint="this recovery")
    assert report["resumed_at_steps"] == [] and report["steps"] == 2
    warned = [r.getMessage() for r in caplog.records if "starting over" in r.getMessage()]
    assert len(warned) == 1 and ("does not fit" in warned[0]) == (saved == "another shape")
    # the other recovery's progress is gone: what is there is this one's end (saved for a job
    # stopped in the merge; the caller deletes it once its files are written)
    with safe_open(str(progress), framework="pt") as kept:
        meta = json.loads(kept.metadata()["progress"])
    assert (meta["fingerprint"], meta["step"]) == ("this recovery", 2)
    # A damaged file is set aside, not deleted: it may be looked at; one of other settings
    # too (a mistyped option must not cost the recovery it meant to resume), named in the log.
    assert (saved == "damaged") == progress.with_name(f"{progress.name}.damaged").exists()
    aside = progress.with_name(f"{progress.name}.other-settings")
    assert (saved == "other settings") == aside.exists()
    if saved == "other settings":
        with safe_open(str(aside), framework="pt") as kept:
            assert json.loads(kept.metadata()["progress"])["fingerprint"] == "another recovery"
        assert aside.name in warned[0] and "move it back" in warned[0]


def test_a_saved_progress_the_disk_fails_to_read_is_kept_for_the_retry(tmp_path, monkeypatch):
    """A shared file system's hiccup (EIO, ESTALE) must not throw hours of training away."""
    import errno

    import safetensors

    progress = tmp_path / ".out.lora-unfinished.safetensors"
    progress.write_bytes(b"whatever is there")

    def unreadable(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(safetensors, "safe_open", unreadable)
    with pytest.raises(PrunebenchError, match="kept for the next attempt") as info:
        lora._load_progress(progress, "fingerprint")
    assert info.value.retry_may_help and progress.exists()


def test_width_pruned_checkpoint_with_a_zero_head_block_recovers(tiny_model_dir, records,
                                                                  tmp_path):
    model = load_model(tiny_model_dir)
    surgery.remove_heads(model, 1, range(model.config.num_attention_heads))  # no heads left
    surgery.add_output_bias(model, 1, "o_proj", torch.full((model.config.hidden_size,), 0.01))
    surgery.remove_heads(model, 2, [0])
    surgery.remove_channels(model, 4, range(0, 384, 3))
    save_model(model, load_tokenizer(tiny_model_dir), tmp_path / "width")
    report = lora.recover_checkpoint(tmp_path / "width", tmp_path / "out", records, TINY_RUN,
                                     device="cpu")
    assert report["skipped_empty_modules"] == ["model.layers.1.self_attn.o_proj"]
    assert report["adapted_modules"] == 8 * 7 - 4  # block 1 has no q, k, v and an empty o
    out = load_model(tmp_path / "out")
    assert isinstance(out.model.layers[1].self_attn, ZeroHeadAttention)
    assert load_config(tmp_path / "out").layer_shapes == load_config(tmp_path / "width").layer_shapes
    assert torch.equal(out.model.layers[1].self_attn.o_proj.bias, model.model.layers[1].self_attn.o_proj.bias)
    assert torch.isfinite(out(torch.tensor([[1, 5, 9, 30]])).logits).all()


def test_a_float16_base_recovers_into_a_float16_checkpoint_and_a_full_disk_is_refused_first(
        tiny_model_dir, records, tmp_path, monkeypatch):
    """LoRA trains in float32 but saves in the dtype the base stores (a float16 LLaMA's recovered
    checkpoint in float32 would take twice the disk); a disk without room for it is refused
    before the model is loaded."""
    import prunebench.atomic as atomic_module
    from prunebench import modeling

    base = tmp_path / "base"
    save_model(load_model(tiny_model_dir).to(torch.float16), load_tokenizer(tiny_model_dir), base)
    real_usage = atomic_module.shutil.disk_usage
    needed = count_params(load_config(base)) * 2
    with monkeypatch.context() as patch:
        patch.setattr(atomic_module.shutil, "disk_usage",
                      lambda path: real_usage(path)._replace(free=needed - 1))
        patch.setattr(modeling, "load_model", lambda *a, **k: pytest.fail("weights loaded"))
        with pytest.raises(PrunebenchError, match="LoRA recovery of .* needs about"):
            lora.recover_checkpoint(base, tmp_path / "out", records, TINY_RUN, device="cpu")
    assert not (tmp_path / "out").exists()
    report = lora.recover_checkpoint(base, tmp_path / "out", records, TINY_RUN, device="cpu")
    out = load_model(tmp_path / "out", dtype=None)
    assert {p.dtype for p in out.parameters()} == {torch.float16}
    assert json.loads((tmp_path / "out" / "config.json").read_text())["dtype"] == "float16"
    # The report's saved_val_loss is the saved checkpoint's own (its float16 weights), not the
    # float32 merge's (merged_val_loss), which the rounding to float16 may not keep.
    settings = lora.resolve_settings(TINY_RUN)
    _, val = split_records(records, settings["data"]["val_size"], settings["data"]["seed"],
                           settings["data"]["max_train"])
    tokenizer = load_tokenizer(tmp_path / "out")
    val = encode_records(val, tokenizer, settings["template"], settings["max_length"],
                         "validation")
    assert report["saved_dtype"] == "float16"
    assert report["saved_val_loss"] == pytest.approx(lora.validation_loss(
        out, val, settings["micro_batch_size"], tokenizer.pad_token_id or 0,
        torch.device("cpu")), rel=1e-6)


@pytest.mark.parametrize("error", [
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB"),
    RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 4 GB"),
])
def test_out_of_memory_names_the_settings_to_lower(tiny_model_dir, records, tmp_path,
                                                   monkeypatch, error):
    def exhausted(*args, **kwargs):  # the first forward pass (step 0's validation) does not fit
        raise error

    monkeypatch.setattr(lora, "response_loss", exhausted)
    with pytest.raises(PrunebenchError) as err:
        lora.recover_checkpoint(tiny_model_dir, tmp_path / "out", records, TINY_RUN,
                                device="cpu")
    message = str(err.value)
    assert "\n" not in message and message.startswith("out of memory in LoRA recovery")
    for setting in ("lora.micro_batch_size (now 4", "set lora.gradient_checkpointing: true",
                    "lora.max_length (now 48)"):
        assert setting in message
    assert not (tmp_path / "out").exists()
    with pytest.raises(PrunebenchError) as err:  # already on: not suggested again
        lora.recover_checkpoint(tiny_model_dir, tmp_path / "out", records,
                                {**TINY_RUN, "gradient_checkpointing": True}, device="cpu")
    assert "gradient_checkpointing" not in str(err.value)
    assert "lora.micro_batch_size (now 4" in str(err.value)


def test_other_errors_in_recovery_are_not_called_out_of_memory(tiny_model_dir, records,
                                                                 tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("expected scalar type Half but found Float")

    monkeypatch.setattr(lora, "response_loss", broken)
    with pytest.raises(RuntimeError, match="expected scalar type"):
        lora.recover_checkpoint(tiny_model_dir, tmp_path / "out", records, TINY_RUN,
                                device="cpu")


def test_recovery_hands_the_tokenizer_code_switch_on(tiny_model_dir, records, tmp_path,
                                                    monkeypatch):
    """Off unless asked: a tokenizer shipping its own code is refused (F27) by default."""
    import prunebench.modeling as modeling

    switches = []

    def stop(path, purpose, trust_remote_code=False):
        switches.append(trust_remote_code)
        raise PrunebenchError("stopped before loading")

    monkeypatch.setattr(modeling, "require_tokenizer", stop)
    for kwargs in ({}, {"trust_remote_code": True}):
        with pytest.raises(PrunebenchError, match="stopped before loading"):
            lora.recover_checkpoint(tiny_model_dir, tmp_path / "out", records, TINY_RUN,
                                    device="cpu", **kwargs)
    assert switches == [False, True]


@pytest.mark.parametrize("switch", [False, True])
def test_the_lora_rule_hands_the_configs_tokenizer_code_switch_on(switch, tmp_path, monkeypatch):
    """The workflow's lora job passes `trust_remote_code` from the config, as the prune and
    evaluation jobs do; a tokenizer shipping its own code is refused unless it is set."""
    import prunebench.instructions
    from workflow_helpers import run_rule_script

    seen = {}

    def stop(*args, **kwargs):
        seen.update(kwargs)
        raise PrunebenchError("stopped before loading")

    monkeypatch.setattr(lora, "recover_checkpoint", stop)
    monkeypatch.setattr(prunebench.instructions, "read_records", lambda path: [])
    with pytest.raises(PrunebenchError, match="stopped before loading"):
        run_rule_script("lora", monkeypatch, config={"trust_remote_code": switch},
                        input={"checkpoint": "base", "report": "report.json", "data": "data"},
                        output={"checkpoint": str(tmp_path / "out"),
                                "report": str(tmp_path / "report.json")},
                        params={"settings": {"seed": 0}, "device": "cpu", "source": "tiny"},
                        wildcards={"model": "tiny", "base": "depth_ppl-0.8"})
    assert seen["trust_remote_code"] is switch


# --------------------------------------------------------------------------- data


def test_prompt_tokens_are_masked_from_the_loss(tiny_model_dir, tokenizer):
    record = {"instruction": "Continue the story:", "input": "Anna is a baker from Lima.",
              "output": "She has a red cat."}
    enc = encode_record(record, tokenizer, "alpaca", max_length=512)
    prompt = tokenizer(format_prompt(record, "alpaca"), add_special_tokens=False)["input_ids"]
    text = tokenizer(format_prompt(record, "alpaca") + record["output"],
                     add_special_tokens=False)["input_ids"]
    response = text[len(prompt):]
    head = 1 + len(prompt)  # BOS + prompt
    assert enc["input_ids"].tolist() == [tokenizer.bos_token_id] + text + [tokenizer.eos_token_id]
    assert (enc["labels"][:head] == IGNORE_INDEX).all()
    assert enc["labels"][head:].tolist() == response + [tokenizer.eos_token_id]
    # padding is neither attended nor scored; the loss counts response tokens only
    short = encode_record({**record, "output": "Yes."}, tokenizer, "plain", 512)
    batch = collate([enc, short], tokenizer.pad_token_id)
    assert batch["attention_mask"][1].sum() == len(short["input_ids"])
    assert (batch["labels"][1, len(short["input_ids"]):] == IGNORE_INDEX).all()
    model = load_model(tiny_model_dir)
    loss, n = lora.response_loss(model, batch)
    assert n == (len(response) + 1) + (len(short["labels"]) - int((short["labels"] == -100).sum()))
    logits = model(input_ids=batch["input_ids"][:1, :len(enc["input_ids"])]).logits[0]
    manual = torch.nn.functional.cross_entropy(logits[head - 1:-1], enc["input_ids"][head:],
                                               reduction="sum")
    single, _ = lora.response_loss(model, collate([enc], tokenizer.pad_token_id))
    assert single.item() == pytest.approx(manual.item(), rel=1e-5)


def sentencepiece_like_tokenizer():
    """A LLaMA-like tokenizer: newlines split off, words with a leading '▁', the first word of a
    text too (what makes a response tokenized alone start with '▁Hello')."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split("\n", behavior="isolated"),
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")])
    text = [format_prompt({"instruction": "Say hello.", "input": ""}, "alpaca") + "Hello there."] * 20
    tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=200,
                                                      special_tokens=["<unk>", "<s>", "</s>"]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")


def test_prompt_and_response_are_tokenized_as_one_text_as_the_study_does():
    """alpaca-lora (the study's recovery): tokenize prompt + response once, mask as many tokens
    as the prompt alone has. Tokenized apart, the response would start with '▁Hello'."""
    tokenizer = sentencepiece_like_tokenizer()
    record = {"instruction": "Say hello.", "input": "", "output": "Hello there."}
    prompt = format_prompt(record, "alpaca")
    # LLaMA's tokenizer puts BOS first; alpaca-lora appends EOS.
    bos, eos = [tokenizer.bos_token_id], [tokenizer.eos_token_id]
    study_ids = bos + tokenizer(prompt + record["output"], add_special_tokens=False)["input_ids"] + eos
    study_masked = len(bos + tokenizer(prompt, add_special_tokens=False)["input_ids"])
    enc = encode_record(record, tokenizer, "alpaca", max_length=64)
    assert enc["input_ids"].tolist() == study_ids
    assert enc["labels"].tolist() == [IGNORE_INDEX] * study_masked + study_ids[study_masked:]
    alone = tokenizer(record["output"], add_special_tokens=False)["input_ids"]
    assert enc["input_ids"].tolist()[study_masked] != alone[0]  # 'Hello', not '▁Hello'


def test_embedded_records_are_instructions_from_the_train_text(embedded_corpus, records):
    train = (embedded_corpus / "train.txt").read_text()
    assert records == embedded_records(train, seed=0)  # seeded
    assert records != embedded_records(train, seed=1)
    continuations = [r for r in records if r["instruction"].startswith(("Continue", "Write"))]
    assert len(continuations) > 1000 and len(records) > len(continuations)
    sample = continuations[0]
    assert f"{sample['input']} {sample['output']}" in train  # a paragraph cut in two


def test_split_is_seeded_and_disjoint(records):
    train, val = split_records(records, 50, seed=3)
    assert len(val) == 50 and len(train) == len(records) - 50
    assert (train, val) == split_records(records, 50, seed=3)
    assert val != split_records(records, 50, seed=4)[1]
    assert not {id(r) for r in val} & {id(r) for r in train}  # no record in both
    assert len(split_records(records, 50, seed=3, max_train=10)[0]) == 10


def test_train_test_split_holds_out_the_records_the_studys_datasets_call_holds_out(records):
    import datasets

    rows = records[:300]
    theirs = datasets.Dataset.from_list(rows).train_test_split(test_size=40, shuffle=True,
                                                                 seed=42)
    train, val = split_records(rows, 40, seed=42, split="train_test_split")
    assert val == theirs["test"].to_list()
    assert train == theirs["train"].to_list()  # in its order: max_train takes its first ones
    assert split_records(rows, 40, seed=42, max_train=7, split="train_test_split")[0] == train[:7]
    # another draw than the default's (Python's shuffle), whose held-out records it does not
    # reproduce; "shuffle" and left out are the same draw
    assert val != split_records(rows, 40, seed=42)[1]
    assert split_records(rows, 40, seed=42, split="shuffle") == split_records(rows, 40, seed=42)


def test_the_recovery_splits_the_records_as_lora_data_split_says(tiny_model_dir, records,
                                                                 tmp_path, monkeypatch):
    seen = []

    class Split(Exception):
        pass

    def spy(*args):
        seen.append(args)
        raise Split  # nothing past the split is needed here

    monkeypatch.setattr(lora, "split_records", spy)
    for split in ("train_test_split", None):
        settings = {**TINY_RUN, "data": {**TINY_RUN["data"], "split": split}}
        with pytest.raises(Split):
            lora.recover_checkpoint(tiny_model_dir, tmp_path / "out", records, settings,
                                    device="cpu")
    assert [args[1:] for args in seen] == [(8, 42, 16, "train_test_split"), (8, 42, 16, None)]


def test_records_round_trip_and_empty_files_are_refused(tmp_path, records):
    path = tmp_path / "data.jsonl"
    assert write_records(path, records[:5]) == 5
    assert read_records(path) == records[:5]
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(PrunebenchError, match="no instruction records"):
        read_records(tmp_path / "empty.jsonl")
    (tmp_path / "bad.jsonl").write_text('{"instruction": " ", "output": "y"}\n')
    with pytest.raises(PrunebenchError, match="empty instruction"):
        read_records(tmp_path / "bad.jsonl")
    # an empty output is a record the study trains on (its response: the EOS token alone)
    (tmp_path / "stop.jsonl").write_text('{"instruction": "x", "output": ""}\n')
    assert read_records(tmp_path / "stop.jsonl") == [{"instruction": "x", "input": "",
                                                      "output": ""}]
    with pytest.raises(PrunebenchError, match="missing"):
        read_records(tmp_path / "absent.jsonl")


def test_empty_or_too_small_datasets_are_refused(tokenizer, records, tmp_path):
    with pytest.raises(PrunebenchError, match="validation split"):
        split_records(records[:10], 10, seed=0)
    with pytest.raises(PrunebenchError, match="no record has a response"):
        encode_records(records[:4], tokenizer, "alpaca", max_length=8, what="train")
    # a record whose prompt fills the window is kept, as the study's alpaca-lora keeps it: the
    # batches (and so the step count) are the study's; it has no scored token
    long_prompt = {**records[0], "input": " ".join(["word"] * 2000)}
    encoded = encode_records([records[0], long_prompt], tokenizer, "alpaca", max_length=512,
                             what="train")
    assert len(encoded) == 2
    assert bool((encoded[0]["labels"] != IGNORE_INDEX).any())
    assert len(encoded[1]["input_ids"]) == 512 and bool((encoded[1]["labels"] == IGNORE_INDEX).all())
    with pytest.raises(PrunebenchError, match="validation split"):
        lora.recover_checkpoint(tmp_path, tmp_path / "out", [], TINY_RUN, device="cpu")


def answering_commits(monkeypatch, answers: dict):
    """`HfApi.dataset_info` as the hub answers it: the commit of (repository, revision) in
    `answers`, else the error of an unreachable hub (no test waits for the network)."""
    import huggingface_hub

    def dataset_info(api, path, revision=None, token=None, **kwargs):
        if (path, revision) not in answers:
            raise ConnectionError("[Errno -2] Name or service not known")
        return type("DatasetInfo", (), {"sha": answers[(path, revision)]})()

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", dataset_info)


def test_alpaca_offline_explains_how_to_prefetch(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("hub unreachable")

    answering_commits(monkeypatch, {})
    monkeypatch.setattr(datasets, "load_dataset", offline)
    from prunebench.instructions import alpaca_records

    with pytest.raises(PrunebenchError, match="snakemake prefetch"):
        alpaca_records()


def test_alpaca_records_come_from_the_hub_dataset(monkeypatch):
    import datasets

    calls = []
    rows = [{"instruction": "Name a colour.", "input": "", "output": "Red."},
            {"instruction": "Add.", "input": "2 and 3", "output": "5"}]

    def fake(path, split=None, revision=None, token=None, trust_remote_code=None):
        calls.append((path, split, revision, token, trust_remote_code))
        return datasets.Dataset.from_list(rows)

    commit = "5d8ce2a1f0e9b7c6d5a4f3e2d1c0b9a8f7e6d5c4"
    answering_commits(monkeypatch, {("yahma/alpaca-cleaned", None): commit})
    monkeypatch.setattr(datasets, "load_dataset", fake)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    from prunebench.instructions import alpaca_records

    # token False: no token saved on the machine is sent (HF_TOKEN only); no repository code
    # runs; read at the commit the hub names for the default branch, which the log records
    assert alpaca_records() == rows
    assert calls == [("yahma/alpaca-cleaned", "train", commit, False, False)]
    assert "### Input:\n2 and 3" in format_prompt(rows[1], "alpaca")
    assert "### Input" not in format_prompt(rows[0], "alpaca")
    # as alpaca-lora's Prompter (`if input:`): only an empty input has the no-input form
    assert "### Input:\n \n" in format_prompt({**rows[0], "input": " "}, "alpaca")


# --------------------------------------------------------------------------- settings


def test_defaults_are_the_studys():
    s = lora.resolve_settings()
    assert (s["r"], s["alpha"], s["dropout"], s["epochs"], s["lr"]) == (8, 16, 0.05, 2, 1e-4)
    assert (s["batch_size"], s["micro_batch_size"], s["max_length"]) == (64, 4, 256)
    assert s["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                   "up_proj", "down_proj"]
    assert s["data"]["source"] == "alpaca" and s["data"]["val_size"] == 2000


@pytest.mark.parametrize("overrides, message", [
    ({"target_modules": ["q_proj", "qkv"]}, "target_modules"),
    ({"target_modules": []}, "target_modules"),
    ({"r": 0}, "lora.r=0"),
    ({"r": -4}, "lora.r=-4"),
    ({"batch_size": 10, "micro_batch_size": 4}, "multiple of"),
    ({"dropout": 1.0}, "dropout"),
    ({"epochs": 1.5}, "whole number"),
    ({"eval_every": 0}, "eval_every"),
    ({"dropout": "abc"}, "lora.dropout='abc': must be a number"),
    ({"weight_decay": "x"}, "lora.weight_decay='x': must be a number"),
    ({"max_grad_norm": True}, "lora.max_grad_norm=True: must be a number"),
    ({"gradient_checkpointing": "maybe"}, "must be true or false"),
    ({"save_every": 200}, "needs evaluations at its steps"),                # epoch-end evaluations
    ({"save_every": 200, "eval_every": 150}, "divisor of it \\(now 150"),
    ({"save_every": 0, "eval_every": 100}, "lora.save_every=0"),
    ({"keep": "worst"}, r"lora.keep='worst': choose one of \['best', 'last'\]"),
    ({"loss_weighting": "records"}, r"lora.loss_weighting='records': choose one of"),
    ({"keep": "last", "save_every": 200, "eval_every": 100}, "leave one of them out"),
    ({"template": "chatml"}, "template"),
    ({"rank": 8}, "unknown lora setting"),
    ({"data": {"source": "embedded", "size": 3}}, "unknown lora.data"),
    ({"data": {"source": "wikitext2"}}, "lora.data.source"),
    # the schema's bounds also where no schema checks them (`prunebench recover`)
    ({"data": {"max_train": -5}}, r"lora.data.max_train=-5: must be a whole number >= 1"),
    ({"data": {"val_size": 0}}, "lora.data.val_size=0"),
    ({"data": {"n_recall": -1}}, "lora.data.n_recall=-1"),
    ({"data": {"seed": 1.5}}, "lora.data.seed=1.5"),
    ({"data": {"split": "random"}}, r"lora.data.split='random': choose one of \['shuffle', "),
])
def test_bad_settings_are_refused(overrides, message):
    with pytest.raises(PrunebenchError, match=message):
        lora.resolve_settings(overrides)


def test_variant_names_split_into_base_and_recovery():
    assert pruning.split_variant("depth_ppl-0.8+lora") == ("depth_ppl-0.8", "lora")
    assert pruning.split_variant("dense+lora") == ("dense", "lora")
    assert pruning.split_variant("flap-4.9B") == ("flap-4.9B", None)
    for bad in ("depth_ppl-0.8+lora+lora", "+lora", "flap-0.8+qlora"):
        with pytest.raises(PrunebenchError):
            pruning.split_variant(bad)


# --------------------------------------------------------------------------- workflow


def test_workflow_dry_run_schedules_lora_variants(tmp_path):
    from workflow_helpers import job_counts, make_workdir, snakemake

    workdir = make_workdir(tmp_path, models={"tiny": {"source": "tiny", "variants": [
        "dense", "depth_ppl-0.8+lora", "dense+lora", "flap-0.8", "flap-0.8+lora"]}})
    dry = snakemake(workdir, "-n").stdout
    counts = job_counts(dry)
    # depth_ppl-0.8 is pruned for its +lora variant although not listed itself
    assert counts["lora"] == 3 and counts["prune"] == 2 and counts["instructions"] == 1, dry
    assert counts["dense_report"] == 1
    for variant in ("dense+lora", "depth_ppl-0.8+lora", "flap-0.8+lora"):
        assert f"results/pruned/tiny/{variant}/checkpoint" in dry
        assert f"results/eval/tiny/{variant}/ppl.json" in dry
    assert "results/bench/tiny/depth_ppl-0.8/" not in dry  # the unlisted base is not measured
    assert "input: resources/models/tiny, results/pruned/tiny/dense/prune_report.json" in dry


def test_workflow_refuses_a_malformed_recovery_suffix(tmp_path):
    from workflow_helpers import make_workdir, snakemake

    workdir = make_workdir(tmp_path, models={"tiny": {"source": "tiny", "variants": [
        "dense", "depth_ppl-0.8+lora+lora"]}})
    proc = snakemake(workdir, "-n", check=False)
    assert proc.returncode != 0 and "depth_ppl-0.8+lora+lora" in proc.stdout + proc.stderr


@pytest.mark.parametrize("weighting", ["tokens", "batch_means"])
def test_the_accumulated_gradient_is_the_full_batchs_loss_gradient(tiny_model_dir, tokenizer,
                                                                   records, weighting):
    """Micro-batch by micro-batch, the gradient adds up to the one of the batch's loss as
    defined from each record's own summed loss and token count: the mean over the batch's
    tokens, or the mean of the micro-batches' token means (the study's Trainer)."""
    examples = encode_records(records[:6], tokenizer, "plain", 64, "train")
    micro_batches = [collate(examples[i:i + 2], tokenizer.pad_token_id or 0)
                     for i in range(0, 6, 2)]
    model = load_model(tiny_model_dir)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss, weight = lora.backward_batch(model, micro_batches, weighting, scaler,
                                       torch.device("cpu"), None)
    accumulated = {n: p.grad.clone() for n, p in model.named_parameters()}

    reference_model = load_model(tiny_model_dir)
    sums, counts = [], []
    for example in examples:  # each record alone: no padding shared with any other
        summed, count = lora.response_loss(reference_model,
                                           collate([example], tokenizer.pad_token_id or 0))
        sums.append(summed)
        counts.append(count)
    assert len(set(counts)) > 1  # records of unequal length: the two weightings differ
    if weighting == "tokens":
        reference = sum(sums) / sum(counts)
        assert weight == sum(counts) and loss == pytest.approx(float(sum(sums).detach()), rel=1e-5)
    else:
        reference = sum((sums[i] + sums[i + 1]) / (counts[i] + counts[i + 1])
                        for i in range(0, 6, 2)) / 3
        assert weight == 1 and loss == pytest.approx(float(reference.detach()), rel=1e-5)
    reference.backward()
    for name, p in reference_model.named_parameters():
        assert torch.allclose(accumulated[name], p.grad, rtol=1e-4, atol=1e-7), name


def test_a_recovery_with_the_studys_loss_weighting_validates_in_its_batches(
        tiny_model_dir, tokenizer, records, monkeypatch):
    settings = lora.resolve_settings({**TINY_RUN, "loss_weighting": "batch_means"})
    train, val = split_records(records, 8, 42, max_train=16)
    calls = []
    real = lora.validation_loss

    def recorded(model, examples, batch, *args, **kwargs):
        calls.append((batch, kwargs.get("weighting")))
        return real(model, examples, batch, *args, **kwargs)

    monkeypatch.setattr(lora, "validation_loss", recorded)
    _, report = lora.train_lora(load_model(tiny_model_dir), tokenizer, train, val, settings,
                                torch.device("cpu"))
    assert report["settings"]["loss_weighting"] == "batch_means"
    # computed micro_batch_size records at a time (what an out-of-memory error says to lower)
    assert calls and set(calls) == {(settings["micro_batch_size"], "batch_means")}
    assert all(math.isfinite(h["val_loss"]) for h in report["history"])
    assert all(math.isfinite(h["train_loss"]) for h in report["history"][1:])


def test_batch_means_validation_weighs_each_batch_by_its_records(tiny_model_dir, tokenizer,
                                                                 records):
    examples = encode_records(records[:5], tokenizer, "plain", 64, "validation")
    model, pad = load_model(tiny_model_dir), tokenizer.pad_token_id or 0
    per_record = [lora.response_loss(model, collate([e], pad)) for e in examples]
    sums, counts = [float(s.detach()) for s, _ in per_record], [c for _, c in per_record]
    # batches of 2: records 0-1, 2-3, 4; each batch's token mean counts once per record
    means = [sum(sums[i:i + 2]) / sum(counts[i:i + 2]) for i in range(0, 5, 2)]
    expected = (2 * means[0] + 2 * means[1] + means[2]) / 5
    for forward in (1, 2, 3):  # records per forward pass: the means are of groups of 2
        assert lora.validation_loss(model, examples, forward, pad, torch.device("cpu"),
                                    weighting="batch_means", group=2) == \
            pytest.approx(expected, rel=1e-5), forward
    assert lora.validation_loss(model, examples, 2, pad, torch.device("cpu")) == \
        pytest.approx(sum(sums) / sum(counts), rel=1e-5)


def test_a_validation_group_without_a_response_token_is_left_out_of_batch_means(
        tiny_model_dir, tokenizer, records):
    """Records whose prompt fills max_length score no token: a group of them has no token mean.
    Counted as a mean of 0 it lowered the reported validation loss (by half here); the
    "tokens" loss leaves such records out too."""
    model, pad = load_model(tiny_model_dir), tokenizer.pad_token_id or 0
    scored = encode_records(records[:2], tokenizer, "plain", 64, "validation")
    # as a prompt that fills max_length leaves them: every label ignored
    silent = [{**e, "labels": torch.full_like(e["labels"], IGNORE_INDEX)}
              for e in encode_records(records[2:4], tokenizer, "plain", 64, "validation")]
    assert all(lora.response_loss(model, collate([e], pad))[1] == 0 for e in silent)
    cpu = torch.device("cpu")
    alone = lora.validation_loss(model, scored, 2, pad, cpu, weighting="batch_means", group=2)
    assert lora.validation_loss(model, scored + silent, 2, pad, cpu, weighting="batch_means",
                                group=2) == pytest.approx(alone, rel=1e-6)
    assert lora.validation_loss(model, scored + silent, 2, pad, cpu) == pytest.approx(
        lora.validation_loss(model, scored, 2, pad, cpu), rel=1e-6)


def test_amp_auto_follows_a_bfloat16_base_where_the_gpu_has_it(monkeypatch, tiny_model_dir):
    """float16 autocast (the study's, for its float16 LLaMA) may overflow the activations of a
    model trained in bfloat16 (Qwen2.5, Llama-3): `auto` takes bfloat16 for such a base."""
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    # torch counts an emulated bfloat16 (a V100's) as supported unless asked not to
    asked = []

    def supported(including_emulation=True, native=True):
        asked.append(including_emulation)
        return native or including_emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    assert lora._amp_dtype("auto", cuda, torch.bfloat16) == torch.bfloat16
    assert lora._amp_dtype("auto", cuda, torch.float16) == torch.float16
    assert lora._amp_dtype("auto", cuda) == torch.float16
    assert lora._amp_dtype("auto", cpu, torch.bfloat16) is None
    assert lora._amp_dtype("float16", cuda, torch.bfloat16) == torch.float16  # as asked
    settings = lora.resolve_settings({})
    fingerprints = {dtype: lora.recovery_fingerprint(tiny_model_dir, "r", settings, cuda, dtype)
                    for dtype in (torch.bfloat16, torch.float16, None)}
    # a float16 base keeps the fingerprint it had (its saved progress still resumes)
    assert fingerprints[torch.float16] == fingerprints[None] != fingerprints[torch.bfloat16]
    # keep picks among adapters the training tracks either way: no new fingerprint
    assert lora.recovery_fingerprint(tiny_model_dir, "r", {**settings, "keep": "last"}, cpu) == \
        lora.recovery_fingerprint(tiny_model_dir, "r", settings, cpu)
    assert set(asked) == {False}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",  # a V100: bfloat16 emulated only
                        functools.partial(supported, native=False))
    assert lora._amp_dtype("auto", cuda, torch.bfloat16) == torch.float16


@pytest.mark.parametrize("warmup, total", [(100, 1556), (1, 8), (0, 5), (3, 3)])
def test_the_learning_rate_follows_the_studys_trainer_schedule(warmup, total):
    """The study's HF Trainer: get_linear_schedule_with_warmup, stepped after each update."""
    from transformers import get_linear_schedule_with_warmup

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = get_linear_schedule_with_warmup(opt, warmup, total)
    for step in range(total):
        assert lora._lr_factor(step, warmup, total) == pytest.approx(
            opt.param_groups[0]["lr"], abs=1e-12), step
        opt.step()
        schedule.step()


def test_updates_the_loss_scaler_skips_hold_the_schedule_back_as_the_studys_trainer(
        tiny_model_dir, tokenizer, records, monkeypatch):
    """The study's HF Trainer steps its scheduler only after an update the fp16 loss scaler
    did not skip: skipped updates hold the learning rate where it was. Here the first two
    steps' losses are made infinite, so the real scaler skips them; its initial scale of 1
    cannot overflow the tiny model's gradients, so no other step is skipped."""
    settings = lora.resolve_settings({**TINY_RUN, "amp": "float16", "eval_every": 1,
                                      "warmup_steps": 2, "max_length": 64})
    train, val = split_records(records, 8, 42, max_train=32)  # 4 steps of 2 micro-batches
    monkeypatch.setattr(torch.amp, "GradScaler",
                        functools.partial(torch.amp.GradScaler, init_scale=1.0))
    training_calls = []
    real_loss = lora.response_loss

    def loss_infinite_in_the_first_two_steps(model, batch):
        loss, n = real_loss(model, batch)
        if model.training:
            training_calls.append(1)
            if len(training_calls) <= 4:
                return loss * math.inf, n
        return loss, n

    monkeypatch.setattr(lora, "response_loss", loss_infinite_in_the_first_two_steps)
    _, report = lora.train_lora(load_model(tiny_model_dir), tokenizer, train, val, settings,
                                torch.device("cpu"))
    lr = settings["lr"]
    assert len(training_calls) == 8 and report["steps"] == 4
    # updates that ran before each step: 0, 0, 0, 1 (the factor of 0 updates is warm-up's 0)
    assert [h["lr"] for h in report["history"]] == [0.0, 0.0, 0.0, 0.0, lr * 1 / 2]
    assert report["skipped_updates"] == 2
    # without a scaler (no autocast), no update is skipped: the plain schedule
    monkeypatch.setattr(lora, "response_loss", real_loss)
    _, plain = lora.train_lora(load_model(tiny_model_dir), tokenizer, train, val,
                               {**settings, "amp": "none"}, torch.device("cpu"))
    assert [h["lr"] for h in plain["history"]] == [0.0, 0.0, lr * 1 / 2, lr, lr * 1 / 2]
    assert plain["skipped_updates"] == 0


def test_a_full_disk_at_a_timed_save_leaves_the_training_going(tiny_model_dir, records, tmp_path,
                                                              monkeypatch, caplog):
    """The save only serves a resume; a full disk at one of them ended hours of training."""
    import errno

    monkeypatch.setenv(lora.SAVE_EVERY_VARIABLE, "0")  # a save after every step
    calls = []

    def disk_full(path, fingerprint, at, *args):
        calls.append(at["step"])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lora, "_save_progress", disk_full)
    with caplog.at_level("WARNING"):
        result = lora.recover_checkpoint(tiny_model_dir, tmp_path / "out", records, RESUMABLE,
                                         device="cpu", progress_path=tmp_path / "progress")
    # it trained on after the first failed save: a save was tried after every step
    assert len(calls) >= 2 and calls == list(range(1, len(calls) + 1))
    assert result["resumed_at_steps"] == []
    assert "progress not saved, the disk is full" in caplog.text
    assert (tmp_path / "out").is_dir()

    def unreadable(*args):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(lora, "_save_progress", unreadable)  # any other failure still stops it
    with pytest.raises(PermissionError):
        lora.recover_checkpoint(tiny_model_dir, tmp_path / "out2", records, RESUMABLE,
                                device="cpu", progress_path=tmp_path / "progress2")


def test_a_validation_loss_that_is_not_finite_is_said(tiny_model_dir, records, tmp_path,
                                                      monkeypatch, caplog):
    """A forward pass that overflows under float16 autocast gives NaN losses, and NaN compares
    as no better than anything: recovery silently kept the base model."""
    real = lora.validation_loss
    losses = iter([math.nan])
    monkeypatch.setattr(lora, "validation_loss",
                        lambda *a, **k: next(losses, None) or real(*a, **k))
    with caplog.at_level("WARNING"):
        report = lora.recover_checkpoint(tiny_model_dir, tmp_path / "out", records, TINY_RUN,
                                         device="cpu")
    assert "the base model's validation loss is nan under no autocast" in caplog.text
    assert "set lora.amp to bfloat16" in caplog.text
    # a finite adapter loss wins over the base's NaN (NaN compared as no better than anything)
    assert report["best_step"] > 0 and math.isfinite(report["best_val_loss"])
    caplog.clear()
    calls = []

    def later_nan(*args, **kwargs):
        calls.append(1)
        return math.nan if len(calls) == 2 else real(*args, **kwargs)

    monkeypatch.setattr(lora, "validation_loss", later_nan)
    with caplog.at_level("WARNING"):
        lora.recover_checkpoint(tiny_model_dir, tmp_path / "out2", records, TINY_RUN,
                                device="cpu")
    assert "validation loss nan: this adapter is no candidate" in caplog.text


def test_target_modules_are_a_set_in_the_settings(small_random_model):
    """The adapters follow the model's module order, whatever the list's: two configs naming
    the same projections in another order (or one twice) are one recovery, with one set of
    settings (the lora rule's params), so neither reruns the other's jobs."""
    from prunebench.plan.variants import lora_settings

    given = lora.resolve_settings({"target_modules": ["v_proj", "q_proj", "v_proj"]})
    assert given["target_modules"] == ["q_proj", "v_proj"]
    assert lora_settings({"lora": {"target_modules": ["down_proj", "q_proj"]}}) == \
        lora_settings({"lora": {"target_modules": ["q_proj", "down_proj"]}})
    model = small_random_model()
    assert lora.lora_target_names(model, ["v_proj", "q_proj"]) == \
        lora.lora_target_names(model, ["q_proj", "v_proj"])
