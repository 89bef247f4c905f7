"""Where a decode step's time goes: the kernels a few decode steps run, from the profiler.

A batch-1 decode step that stays above its bandwidth floor after fusion, compilation and CUDA
graphs loses the rest either inside kernels (a GEMV that does not reach the copy bandwidth) or
between them (each kernel's launch, ramp-up and tail, paid once per kernel however little it
reads). The profile separates the two: the summed kernel time per step against the span of the
GPU timeline per step, the kernel count per step, and the kernels that take the most time.

On CUDA the profiler records the kernels replayed from a CUDA graph one by one; on the CPU there
are no kernels, and the top-level operators stand in for them (same table, op-by-op decoding).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch

from prunebench.benchmark.attention import quiet_profiler

# Kernel families by name, first match wins: attention before GEMM (cutlass's attention kernels
# carry "cutlass" in their names too, inductor's flex-attention templates and the eager
# attention's batched matmuls and softmax "triton"), inductor's pointwise kernels before GEMM
# (a rotary kernel fused with a matmul's view is named after the matmul). Names are the
# libraries' own, so this only groups them for reading, with known blind spots: a sampled
# decode's softmax counts as attention, a cuBLAS batched matmul (no "bmm" in its name) as GEMM.
# The raw names are kept in `top`. cuBLAS's nvJet kernels (its GEMMs on Hopper since CUDA 12.8:
# `nvjet_sm90_hsh_128x8_64x12_4x1_v_bz_TNT`) carry none of the older words: on an H100 they
# counted as "other", 2.1 ms of transformers' 6.1 ms busy step (2026-12-06).
CATEGORIES = (
    ("attention", ("flash", "fmha", "attention", "attn", "flex", "bmm", "softmax")),
    ("generated (triton)", ("triton_poi_",)),
    ("gemm/gemv", ("gemm", "gemv", "nvjet", "cutlass", "xmma", "cublas", "splitk", "mm_",
                   "addmm", "linear", "matmul")),
    ("generated (triton)", ("triton",)),
    ("copy/fill", ("memcpy", "memset", "copy", "fill")),
)


def category(name: str) -> str:
    lower = name.lower()
    for label, keys in CATEGORIES:
        if any(k in lower for k in keys):
            return label
    return "other"


def _events(prof, device_type: str) -> list[tuple[str, float, float]]:
    """(name, start µs, end µs) of the device's kernels, or of the top-level CPU operators."""
    out = []
    for e in prof.events():
        kind = str(getattr(e, "device_type", "")).rsplit(".", 1)[-1]
        if device_type == "cuda":
            # User annotations mirrored onto the GPU timeline (inductor's "## Call
            # CompiledFxGraph ##" around a compiled call) span kernels: not kernels themselves.
            if kind != "CUDA" or getattr(e, "is_user_annotation", False):
                continue
        elif kind != "CPU" or e.cpu_parent is not None or e.name.startswith("["):
            continue
        out.append((e.name, float(e.time_range.start), float(e.time_range.end)))
    return out


def profile_decode_steps(decoder, steps: int, start_position: int) -> dict[str, Any]:
    """Profile `steps` decode steps of a prepared StaticDecoder from `start_position` on.

    The cache content does not change which kernels run or how long they take (attention reads
    the whole static cache, masked), so the steps decode from a zero token without a prefill.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if start_position + steps > decoder.max_seq_len:
        raise ValueError(f"{start_position} + {steps} steps exceed the decoder's cache "
                         f"({decoder.max_seq_len} positions)")
    from torch.profiler import ProfilerActivity, profile

    device = decoder.positions.device
    cuda = device.type == "cuda"
    quiet_profiler()
    token = torch.zeros(decoder.batch_size, 1, dtype=torch.long, device=device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with torch.inference_mode():
        decoder.step(token, start_position)  # anything lazy happens outside the profile
        if cuda:
            torch.cuda.synchronize(device)
        with profile(activities=activities) as prof:
            for i in range(steps):
                token = decoder.step(token, start_position + i)
            if cuda:
                torch.cuda.synchronize(device)
    events = _events(prof, "cuda" if cuda else "cpu")
    return summarise(events, steps, source="device kernels" if cuda else "top-level CPU operators")


# The profiler marks a generate drops around the decode steps it profiles (their CPU events
# are the window's edges, never counted as the steps' work).
WINDOW_START, WINDOW_END = "prunebench::profiled_steps_start", "prunebench::profiled_steps_end"


class _StepWindow:
    """The step clock a profiled `generate` gets (HFRunner's per-token hook): after the first
    token (the prefill's) and after `steps` more, it waits for the device and drops a marker,
    so the kernels between the two are those of `steps` decode steps, each with the sampling
    and bookkeeping `generate` does around its forward, and none of the prefill's."""

    def __init__(self, device: torch.device, steps: int):
        self.device, self.steps, self.tokens = device, steps, 0

    def start(self) -> None:
        self.tokens = 0

    def mark(self) -> None:
        self.tokens += 1
        if self.tokens in (1, 1 + self.steps):
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            name = WINDOW_START if self.tokens == 1 else WINDOW_END
            with torch.profiler.record_function(name):
                pass


def profile_generate_steps(runner, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                           steps: int) -> dict[str, Any]:
    """Profile `steps` decode steps of a `generate`-based runner (the hf and hf_static
    backends): one generate of the runner's output length, run once before untimed (anything
    lazy, a compile included, happens outside the profile), then again under the profiler,
    counting only the kernels between the first token and the `steps`-th after it
    (`_StepWindow`). On a GPU, hf_static's steps are then transformers' compiled forward
    replayed from its CUDA graph, plus generate's own work per token: the profile the compiled
    backend's (`profile_decode_steps`) is read against."""
    from torch.profiler import ProfilerActivity, profile

    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if steps > runner.output_tokens - 1:
        raise ValueError(f"{steps} steps exceed the {runner.output_tokens - 1} decode steps of "
                         f"a generate of {runner.output_tokens} tokens")
    device = input_ids.device
    cuda = device.type == "cuda"
    quiet_profiler()
    runner.generate(input_ids, attention_mask)
    if cuda:
        torch.cuda.synchronize(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        runner.generate(input_ids, attention_mask, _StepWindow(device, steps))
        if cuda:
            torch.cuda.synchronize(device)
    marks = {e.name: float(e.time_range.start) for e in prof.events()
             if e.name in (WINDOW_START, WINDOW_END)}
    if set(marks) != {WINDOW_START, WINDOW_END}:
        raise RuntimeError(f"the profiled generate dropped {sorted(marks)} of its two step "
                           "marks: its per-token hook did not run")
    events = [e for e in _events(prof, "cuda" if cuda else "cpu")
              if marks[WINDOW_START] <= e[1] < marks[WINDOW_END]
              and e[0] not in (WINDOW_START, WINDOW_END)]
    return summarise(events, steps, source="device kernels" if cuda
                     else "top-level CPU operators")


def summarise(events: list[tuple[str, float, float]], steps: int, source: str,
              top: int | None = None) -> dict[str, Any]:
    """Per-step figures from (name, start µs, end µs) events of `steps` decode steps; `top`
    keeps that many kernel names, costliest first (None: all)."""
    result: dict[str, Any] = {"steps": steps, "source": source, "events": len(events)}
    if not events:
        result["note"] = ("the profiler recorded no events: this torch build may not trace "
                          "kernels replayed from CUDA graphs")
        return result
    busy_us = sum(end - start for _, start, end in events)
    span_us = max(end for _, _, end in events) - min(start for _, start, _ in events)
    by_name: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    by_category: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for name, start, end in events:
        for table, key in ((by_name, name), (by_category, category(name))):
            table[key][0] += 1
            table[key][1] += end - start

    def rows(table: dict[str, list[float]], label: str, limit: int | None) -> list[dict]:
        ranked = sorted(table.items(), key=lambda kv: -kv[1][1])[:limit]
        return [{label: key, "per_step": count / steps, "ms_per_step": us / steps / 1e3,
                 "share": us / busy_us if busy_us else None} for key, (count, us) in ranked]

    result.update(
        per_step=len(events) / steps,
        busy_ms_per_step=busy_us / steps / 1e3,
        span_ms_per_step=span_us / steps / 1e3,
        # Kernels of one stream do not overlap: what the span holds beyond them is idle time.
        busy_fraction=busy_us / span_us if span_us else None,
        categories=rows(by_category, "category", None),
        top=rows(by_name, "name", top),
    )
    return result


def markdown(profile: dict[str, Any], title: str, names: int = 15) -> str:
    """A short report: the step's busy time against its span, then the kinds of kernel and the
    `names` costliest kernels."""
    if "per_step" not in profile:
        return f"{title}: {profile.get('note', 'no profile')}"

    def pct(x: float | None, digits: int = 0) -> str:
        return "-" if x is None else f"{100 * x:.{digits}f}%"

    lines = [f"{title}: {profile['per_step']:.0f} {profile['source']} per step, busy "
             f"{profile['busy_ms_per_step']:.3f} ms of a {profile['span_ms_per_step']:.3f} ms "
             f"span ({pct(profile['busy_fraction'])}), {profile['steps']} steps", ""]
    for label, rows in (("kind", profile["categories"]), ("name", profile["top"][:names])):
        lines += [f"| {label} | per step | ms per step | share of busy time |",
                  "|---|---|---|---|"]
        for row in rows:
            key = row["category"] if label == "kind" else row["name"]
            key = key if len(key) <= 90 else key[:87] + "..."
            shown = key if label == "kind" else f"`{key}`"
            lines.append(f"| {shown} | {row['per_step']:.1f} | {row['ms_per_step']:.3f} | "
                         f"{pct(row['share'], 1)} |")
        lines.append("")
    return "\n".join(lines).rstrip()


def profile_text(profile: dict[str, Any], title: str) -> str:
    """A benchmark row's `kernel_profile` as text: its report (`markdown`), or why it failed."""
    if profile["status"] == "ok":
        return markdown(profile, title)
    return f"{title}: {profile['status']} {profile.get('error', '')}"
