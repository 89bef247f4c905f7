"""Peak GPU memory of the heavy training-style steps, on randomly initialised big shapes.

Memory depends on shapes, not weight values, so no download is needed. Four checks, in
priority order, each through the library calls the workflow makes:

  lora_resume a LoRA recovery under float16 autocast killed right after its first saved
              progress and resumed, against the same recovery uninterrupted: the loss scaler's
              state and the CUDA generator come back from the save (small shapes, seconds: the
              mechanics, not the memory)
  llm_pruner  LLM-Pruner on LLaMA-13B in float32, pruned to 9.2B (the study's 13B size): one
              forward/backward on 10 x 64 calibration tokens; it must fit one GPU
  taylor+     depth_taylor ("Taylor+") on LLaMA-7B in float32, pruned to 4.9B: 10 x 128 tokens
  lora        one LoRA step under float16 autocast (the study's recovery settings otherwise) on
              LLaMA-7B with float32 master weights, through prunebench.lora.train_lora

    python benchmarks/gpu_memory.py                      # on a GPU
    python benchmarks/gpu_memory.py --small --device cpu # anywhere: tiny shapes, no peak memory

Writes gpu_memory.json and gpu_memory.md to --out (default $OUT). A check that would start after
the time budget is recorded as skipped; an error (out of memory included) is recorded with its
first line and the next check runs.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import time
import traceback
from pathlib import Path

import torch
from transformers import LlamaConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))  # script_arguments, beside this script

from script_arguments import names  # noqa: E402

from prunebench.atomic import write_json, write_text  # noqa: E402
from prunebench.checkpoint.architectures import architecture_config  # noqa: E402
from prunebench.commands.arguments import device_spec, non_negative_int, time_budget  # noqa: E402
from prunebench.methods.registry import method_function  # noqa: E402
from prunebench.modeling import count_params, random_model, resolve_device  # noqa: E402
from prunebench.oom import free_memory, is_out_of_memory  # noqa: E402
from prunebench.plan.sizes import parse_size  # noqa: E402
from prunebench.provenance import provenance  # noqa: E402

log = logging.getLogger("gpu_memory")

CHECKS = ("lora_resume", "llm_pruner", "taylor+", "lora")


def small_config(layers: int) -> LlamaConfig:
    return LlamaConfig(hidden_size=64, intermediate_size=172, num_hidden_layers=layers,
                       num_attention_heads=4, num_key_value_heads=4, vocab_size=512,
                       max_position_embeddings=512, bos_token_id=1, eos_token_id=2,
                       pad_token_id=0, tie_word_embeddings=False)


def setup(name: str, small: bool) -> dict:
    """The shapes, size and calibration of each check: the study's, or tiny ones with `small`."""
    if name == "llm_pruner":
        return {"method": "llm_pruner", "config": small_config(10) if small
                else architecture_config("llama-13b"),
                "size": "0.7" if small else "9.2B", "calibration": (10, 64)}
    if name == "taylor+":
        return {"method": "depth_taylor", "config": small_config(8) if small
                else architecture_config("llama-7b"),
                "size": "0.75" if small else "4.9B", "calibration": (10, 128)}
    if name == "lora_resume":
        return {"config": small_config(4)}
    return {"config": small_config(4) if small else architecture_config("llama-7b")}


def reset_peak(device: torch.device) -> None:
    free_memory(device)  # the last check's model gone, so the next peak is its own
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def run_prune(spec: dict, device: torch.device, seed: int) -> dict:
    config = spec["config"]
    params_before = count_params(config)  # pruning edits the model's config, this object
    model = random_model(config, device, torch.float32, seed=seed)
    weights_gib = params_before * 4 / 2**30
    n, length = spec["calibration"]
    # Random ids: the memory of a forward/backward does not depend on which tokens they are.
    generator = torch.Generator().manual_seed(seed)
    calibration = torch.randint(3, config.vocab_size, (n, length), generator=generator)
    target = parse_size(spec["size"], params_before)
    report = method_function(spec["method"])(model, calibration.to(device), target)
    return {"params_before": params_before, "params_after": count_params(model.config),
            "blocks_after": model.config.num_hidden_layers, "weights_gib": weights_gib,
            "target": spec["size"], "method_report_keys": sorted(report)}


def lora_inputs(seed: int, overrides: dict) -> tuple:
    """(tokenizer, settings, instruction records) for a recovery on the embedded text."""
    from prunebench.corpus import generate_corpus
    from prunebench.instructions import embedded_records
    from prunebench.plan.lora_settings import resolve_settings
    from prunebench.tiny import train_tokenizer

    text = generate_corpus(seed=0)["train"]
    tokenizer = train_tokenizer(text)  # a stand-in: 512 ids, within every vocabulary here
    settings = resolve_settings({"epochs": 1, "warmup_steps": 0, "seed": seed, **overrides})
    return tokenizer, settings, embedded_records(text, seed=seed)


def run_lora_step(spec: dict, device: torch.device, seed: int) -> dict:
    """One optimizer step of the workflow's LoRA recovery under float16 autocast."""
    from prunebench.lora import train_lora

    config = spec["config"]
    tokenizer, settings, records = lora_inputs(
        seed, {"amp": "float16" if device.type == "cuda" else "none"})
    # Exactly one batch of the study's size (64 records in micro-batches of 4), then a merge;
    # validation on 4 records is the cheap part.
    batch = int(settings["batch_size"])
    if len(records) < batch + 4:
        raise RuntimeError(f"only {len(records)} embedded records, need {batch + 4}")
    model = random_model(config, device, torch.float32, seed=seed)
    weights_gib = count_params(config) * 4 / 2**30
    _, report = train_lora(model, tokenizer, records[:batch], records[batch:batch + 4], settings,
                           device)
    return {"params": count_params(config), "weights_gib": weights_gib, "steps": report["steps"],
            "amp": report["amp"], "trainable_params": report["trainable_params"],
            "micro_batch_size": settings["micro_batch_size"], "max_length": settings["max_length"]}


class _Killed(BaseException):
    """Stands for the job's end right after a save (a pre-emption, a time limit)."""


def run_lora_resume(spec: dict, device: torch.device, seed: int) -> dict:
    """A recovery killed right after its first saved progress, resumed, and compared with the
    same recovery run through: on a CPU they are equal bit for bit; on a GPU, the scaler and
    generators restored, they differ at most by the kernels' own run-to-run noise."""
    import tempfile
    from unittest import mock

    from prunebench import lora

    tokenizer, settings, records = lora_inputs(seed, {
        "amp": "float16", "template": "plain", "batch_size": 8, "micro_batch_size": 4,
        "max_length": 64, "eval_every": 1, "lr": 1e-3})
    # Batches of 8 (of the records that fit 64 tokens), each step evaluated.
    train, val = records[:24], records[24:32]

    def recover(progress: Path | None) -> tuple[dict, dict]:
        model = random_model(spec["config"], device, torch.float32, seed=seed)
        merged, report = lora.train_lora(model, tokenizer, train, val, settings, device,
                                         progress, "gpu_memory lora_resume")
        return merged.state_dict(), report

    reference, uninterrupted = recover(None)
    save, saved = lora._save_progress, {}

    def save_then_die(path, fingerprint, at, *args):
        save(path, fingerprint, at, *args)
        saved.update(step=at["step"], scaler=args[2].state_dict())
        raise _Killed

    with tempfile.TemporaryDirectory() as folder:
        progress = Path(folder) / "progress.safetensors"
        # A save after every step, the first of them followed by the job's end.
        with mock.patch.dict(os.environ, {lora.SAVE_EVERY_VARIABLE: "0"}), \
                mock.patch.object(lora, "_save_progress", save_then_die):
            try:
                recover(progress)
            except _Killed:
                pass
        if not saved:
            raise RuntimeError("the recovery ended without saving its progress")
        weights, resumed = recover(progress)
    diff = max(float((weights[k].float() - reference[k].float()).abs().max()) for k in reference)
    return {"steps": uninterrupted["steps"], "amp": uninterrupted["amp"],
            "killed_after": saved["step"], "resumed_at_steps": resumed["resumed_at_steps"],
            "scale_at_kill": saved["scaler"].get("scale"),
            "history_equal": resumed["history"] == uninterrupted["history"],
            "max_abs_diff": diff}


RUNS = {"lora_resume": run_lora_resume, "lora": run_lora_step}


def markdown(rows: list[dict], gpu: str) -> str:
    lines = [f"Peak memory on {gpu} (torch.cuda.max_memory_allocated; the float32 weights alone "
             "in their own column)", "", "| check | status | peak GiB | weights GiB | s | detail |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        peak = f"{r['peak_gib']:.1f}" if r.get("peak_gib") is not None else "-"
        weights = f"{r['weights_gib']:.1f}" if r.get("weights_gib") is not None else "-"
        seconds = f"{r['elapsed_s']:.0f}" if r.get("elapsed_s") is not None else "-"
        detail = r.get("error") or ", ".join(
            f"{k}={r[k]}" for k in ("params_before", "params_after", "blocks_after", "params",
                                    "steps", "amp", "killed_after", "resumed_at_steps",
                                    "scale_at_kill", "history_equal", "max_abs_diff") if k in r)
        lines.append(f"| {r['check']} | {r['status']} | {peak} | {weights} | {seconds} | "
                     f"{detail} |")
    return "\n".join(lines)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checks", default=",".join(CHECKS), type=names(CHECKS, "checks"),
                   help=f"any of {','.join(CHECKS)}, comma-separated, each once, run in the "
                        "order given")
    p.add_argument("--device", default="auto", type=device_spec,
                   help="auto (CUDA when present), cpu, cuda or cuda:N")
    p.add_argument("--small", action="store_true", help="tiny shapes (a rehearsal anywhere)")
    p.add_argument("--budget-s", type=time_budget, default=240.0,
                   help="no check starts after this many seconds")
    p.add_argument("--out", default=os.environ.get("OUT") or "gpu_memory_out")
    p.add_argument("--seed", type=non_negative_int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> dict:
    started = time.perf_counter()
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    device = resolve_device(args.device, "--device")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = provenance(device=device, seed=args.seed, cell=vars(args))
    gpu = env.get("gpu_name") or str(device)
    report: dict = {"args": vars(args), "provenance": env, "checks": []}
    for name in args.checks:
        row: dict = {"check": name}
        if time.perf_counter() - started > args.budget_s:
            row["status"] = "skipped (time budget)"
            report["checks"].append(row)
            continue
        spec = setup(name, args.small)
        reset_peak(device)
        t0 = time.perf_counter()
        try:
            result = RUNS.get(name, run_prune)(spec, device, args.seed)
            row.update(status="ok", **result)
        except Exception as exc:  # noqa: BLE001 - recorded; the next check still runs
            log.error("%s failed:\n%s", name, traceback.format_exc())
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            row.update(status="out of memory" if is_out_of_memory(exc) else "error",
                       error=f"{type(exc).__name__}: {first}"[:300])
        row.update(elapsed_s=time.perf_counter() - t0, peak_gib=peak_gib(device))
        if device.type == "cuda":
            row["device_total_gib"] = torch.cuda.get_device_properties(device).total_memory / 2**30
        report["checks"].append(row)
        log.info("%s: %s, peak %s GiB, %.0f s", name, row["status"], row["peak_gib"],
                 row["elapsed_s"])
        write_json(out / "gpu_memory.json", report)
    gc.collect()
    text = markdown(report["checks"], gpu)
    print(text, flush=True)
    report["elapsed_s"] = time.perf_counter() - started
    write_json(out / "gpu_memory.json", report)
    write_text(out / "gpu_memory.md", text + "\n")
    return report


if __name__ == "__main__":
    main()
