"""Every GPU check of the pipeline in one prepared run, inside one device-time budget.

GPU time is often lent in short slots (here: about 15 minutes a session, at most 10 minutes a
command), so the checks run in one command, most informative first, under one deadline:

  env       GPU, driver, package versions (nvidia-smi, python3 -m pip list)
  check     benchmarks/gpu_check.py with the fused CUDA-graph decoder (no compile, starts at
            once): dense / depth / width random LLaMA-7B at batch 1, 16, 64, 12x128; the hf
            backend on the width model; throughput, % of the bandwidth floor, speed-ups
  smoke     benchmarks/gpu_smoke.sh: the whole workflow on config/gpu-smoke.yaml, timed
  autotune  gpu_check with --compile-mode autotune-graph, compiled backend, batch 1: the
            decode step as % of the bandwidth floor after kernel autotuning (63-123 s per
            model on an H200: dense, width, then depth, as far as its share allows), each
            followed by a kernel profile of 32 decode steps (--profile-steps)
  attention the autotuned depth model again with the decoder's own attention (--attention
            eager: matmul + softmax fused by inductor) instead of SDPA's kernel, profiled
  memory    benchmarks/gpu_memory.py: a float16 LoRA recovery killed after a save and resumed
            (small shapes); peak memory of LLM-Pruner on 13B, Taylor+ on 7B, one LoRA step
            under float16 autocast

A step that would start too late is skipped, one that overruns its share is stopped (a stopped
smoke run resumes where it stopped when run again on the same machine), and a failing step is
recorded and the next one runs. Everything lands in --out (default $OUT, the device tool's
folder that comes back): session.log (all output), summary.md (each step's table and wall time)
and results.tar.gz (the JSON reports, the smoke run's tables, figures, sweeps, evaluations
and logs).

    python3 benchmarks/gpu_session.py                      # on the GPU machine
    python3 benchmarks/gpu_session.py --steps autotune,memory --deadline-s 200   # the rest
    python3 benchmarks/gpu_session.py --steps env,smoke --deadline-s 580   # check measured before
    python benchmarks/gpu_session.py --rehearse --out /tmp/rehearsal   # anywhere, on the CPU

Carried wheels in .whl/ (benchmarks/offline_wheels.py makes them) are installed first.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEPS = ("env", "check", "smoke", "autotune", "attention", "memory")
WORK = Path("results/gpu_session")  # under results/: ignored by git, kept with the run's files
SITE = Path("/tmp/prunebench-site")  # where carried wheels are installed

# Each step's share of the deadline: (the most it may take, the least worth starting with, what
# it leaves for the steps after it when they are to run).
# The smoke run may take up to 540 s where it runs alone (its budget is 8 minutes); autotuning
# takes about 90 s per model on an H200, so up to 300 s covers the three.
SHARES = {"env": (30, 0, 0), "check": (170, 60, 300), "smoke": (540, 120, 100),
          "autotune": (300, 90, 40), "attention": (150, 80, 0), "memory": (150, 60, 0)}

REHEARSAL_OVERLAY = """\
# Rehearsal on the CPU: the embedded tiny model instead of random LLaMA-7B shapes, fractions
# instead of absolute sizes, a short training, float32, short generations.
embedded:
  model: {steps: 20}
models:
  llama-7b:
    source: tiny
    variants: [dense, depth_ppl-0.75, llm_pruner-0.75]
device: cpu
benchmark:
  token_configs: ["12x8"]
  batch_sizes: [1, 2]
  dtype: float32
  compile_mode: auto
"""


class Session:
    def __init__(self, out: Path, deadline_s: float):
        self.out, self.deadline_s, self.start = out, deadline_s, time.monotonic()
        self.log = (out / "session.log").open("a", encoding="utf-8")
        self.summary: list[str] = []

    def left(self) -> float:
        return self.deadline_s - (time.monotonic() - self.start)

    def say(self, text: str) -> None:
        line = f"[{time.monotonic() - self.start:6.0f} s] {text}"
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def run(self, cmd: list[str], timeout: float, env: dict | None = None,
            cwd: Path = REPO) -> tuple[int, float]:
        """Run `cmd` in `cwd` with its output teed to the log; stop its whole process group
        (snakemake's jobs included) at `timeout`. Returns (exit code, 124 on timeout; seconds)."""
        self.say("$ " + shlex.join(cmd))
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, start_new_session=True)

        def pump():
            for line in proc.stdout:
                sys.stdout.write(line)
                self.log.write(line)
            self.log.flush()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)  # snakemake removes its incomplete outputs
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            code = 124
        reader.join(timeout=5)
        seconds = time.monotonic() - t0
        self.say(f"exit {code} after {seconds:.0f} s" + (" (stopped at its time share)"
                                                           if code == 124 else ""))
        return code, seconds


# What a workflow run needs of the checkout: a rehearsal's smoke run works in a copy of these.
CHECKOUT_PARTS = ("benchmarks", "config", "profiles", "src", "workflow", "pyproject.toml")


def checkout_copy(dest: Path) -> Path:
    """A fresh copy of the checkout's code and configs at `dest`. A rehearsal's smoke run works
    there, so that its tiny stand-in of llama-7b never lands in this checkout's resources/ (the
    config checks and `prunebench plan` read models found there) nor its results in results/."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for part in CHECKOUT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, dest / part)
    return dest


def install_wheels(session: Session) -> dict:
    """Carried wheels on the path of every step (snakemake and its dependencies)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHON=sys.executable)
    wheels = sorted((REPO / ".whl").glob("*.whl"))
    if wheels:
        code, _ = session.run([sys.executable, "-m", "pip", "install", "-q", "--no-index",
                               "--no-deps", "--no-compile", "--no-cache-dir", "--upgrade",
                               "--target", str(SITE), *map(str, wheels)], timeout=120)
        if code == 0:
            env["PYTHONPATH"] = f"{SITE}:{env.get('PYTHONPATH', '')}"
    env["PYTHONPATH"] = f"{REPO / 'src'}:{env.get('PYTHONPATH', '')}"
    return env


def step_env(session: Session, env: dict, work: Path) -> str:
    lines = []
    for cmd in (["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                 "--format=csv,noheader"],
                [sys.executable, "-c", "import torch, transformers; print('python', "
                 "__import__('platform').python_version(), 'torch', torch.__version__, 'cuda', "
                 "torch.version.cuda, 'transformers', transformers.__version__)"],
                [sys.executable, "-m", "snakemake", "--version"]):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
            lines.append((done.stdout or done.stderr).strip().splitlines()[-1]
                         if (done.stdout or done.stderr).strip() else f"{cmd[0]}: no output")
        except (OSError, subprocess.TimeoutExpired) as exc:
            lines.append(f"{cmd[0]}: {exc}")
    for line in lines:
        session.say(line)
    freeze = subprocess.run([sys.executable, "-m", "pip", "list", "--format=freeze"],
                            capture_output=True, text=True, env=env)
    (work / "pip-freeze.txt").write_text(freeze.stdout)
    return "\n".join(f"- {line}" for line in lines)


def check_args(rehearse: bool, budget: float) -> list[str]:
    if rehearse:
        return ["--arch", "tiny-test", "--device", "cpu", "--dtype", "float32", "--tokens", "4x8",
                "--batch-sizes", "1,2", "--warmup", "0", "--repeats", "1",
                "--budget-s", f"{budget:.0f}"]
    return ["--tokens", "12x128", "--batch-sizes", "1,16,64", "--warmup", "1", "--repeats", "3",
            "--backends", "compiled,hf", "--hf-variants", "width", "--compile-mode", "cuda-graph",
            "--budget-s", f"{budget:.0f}"]


def autotune_args(rehearse: bool, budget: float) -> list[str]:
    if rehearse:  # no CUDA graphs on the CPU: the same path with the op-by-op decoder
        return ["--arch", "tiny-test", "--device", "cpu", "--dtype", "float32", "--tokens", "4x8",
                "--batch-sizes", "1", "--warmup", "0", "--repeats", "1", "--backends",
                "compiled", "--no-selfcheck", "--profile-steps", "4",
                "--budget-s", f"{budget:.0f}"]
    # Depth and width were measured on the H200 on 2026-11-30 (72%, 60%; dense 70% in an
    # earlier lease, without a profile): dense first now. Each row's kernel profile (32 steps,
    # after the timed runs) shows where the time above the floor goes.
    return ["--tokens", "12x128", "--batch-sizes", "1", "--warmup", "1", "--repeats", "3",
            "--variants", "dense,width,depth", "--backends", "compiled",
            "--compile-mode", "autotune-graph", "--no-selfcheck", "--profile-steps", "32",
            "--budget-s", f"{budget:.0f}"]


def attention_args(rehearse: bool, budget: float) -> list[str]:
    """The autotuned depth model with the decoder's own attention (matmul, softmax, matmul,
    which inductor fuses) instead of SDPA's memory-efficient kernel, which took 12.8 µs per
    block for a ~140-position context on the H200 (9% of the step)."""
    return [*autotune_args(rehearse, budget), "--variants", "depth", "--attention", "eager"]


def read_md(path: Path) -> str:
    return path.read_text() if path.exists() else f"(no {path.name}: see session.log)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default=",".join(STEPS), help=f"any of {','.join(STEPS)}")
    parser.add_argument("--deadline-s", type=float, default=580.0,
                        help="wall-clock seconds for all steps; keep it under the slot's command limit")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "gpu_session_out"))
    parser.add_argument("--work", type=Path, default=REPO / WORK,
                        help="where the steps write their reports (packed into results.tar.gz)")
    parser.add_argument("--rehearse", action="store_true",
                        help="tiny shapes on the CPU, to test this script anywhere")
    args = parser.parse_args(argv)
    steps = args.steps.split(",")
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown step(s) {unknown}: choose from {list(STEPS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    session = Session(args.out, args.deadline_s)
    session.say(f"gpu_session: steps {steps}, deadline {args.deadline_s:.0f} s"
                + (", REHEARSAL on the CPU" if args.rehearse else ""))
    env = install_wheels(session)
    py = sys.executable
    sections: list[str] = []
    # Where the smoke run writes resources/, results/ and logs/.
    checkout = checkout_copy(work / "checkout") if args.rehearse else REPO

    for name in steps:
        longest, least, _ = SHARES[name]
        later = sum(SHARES[s][2] for s in steps[steps.index(name) + 1:])
        share = min(longest, session.left() - later)
        if share < least:
            session.say(f"skip {name}: {session.left():.0f} s left, its share {share:.0f} s is "
                        f"under its minimum {least} s")
            sections.append(f"## {name}\nskipped: no time left in this run's deadline")
            continue
        session.say(f"--- {name} (up to {share:.0f} s)")
        t0 = time.monotonic()
        if name == "env":
            sections.append(f"## env\n{step_env(session, env, work)}")
            continue
        if name in ("check", "autotune", "attention"):
            out = work / name
            # gpu_check's own budget ends 30 s before the share, for its report and tables.
            extra = {"check": check_args, "autotune": autotune_args,
                     "attention": attention_args}[name](args.rehearse, share - 30)
            code, seconds = session.run([py, "benchmarks/gpu_check.py", *extra, "--out",
                                         str(out)], timeout=share, env=env)
            sections.append(f"## {name} (exit {code}, {seconds:.0f} s)\n"
                            f"{read_md(out / 'gpu_check.md')}")
        elif name == "smoke":
            cmd = ["bash", "benchmarks/gpu_smoke.sh"]
            if args.rehearse:
                overlay = work / "rehearsal.yaml"
                overlay.write_text(REHEARSAL_OVERLAY)
                cmd += ["--configfile", "config/gpu-smoke.yaml", str(overlay)]
            code, seconds = session.run(cmd, timeout=share, env=env, cwd=checkout)
            summary = checkout / "results" / "tables" / "summary.md"
            state = {0: "complete", 124: "STOPPED at its time share (rerun to resume)"}.get(
                code, "FAILED (see session.log and logs/ in results.tar.gz)")
            sections.append(f"## smoke: {state}, wall time {seconds:.0f} s (exit {code})\n"
                            + (read_md(summary) if code == 0 else ""))
        else:
            out = work / "memory"
            extra = ["--small", "--device", "cpu"] if args.rehearse else []
            code, seconds = session.run([py, "benchmarks/gpu_memory.py", *extra, "--budget-s",
                                         f"{max(1.0, share - 60):.0f}", "--out", str(out)],
                                        timeout=share, env=env)
            sections.append(f"## memory (exit {code}, {seconds:.0f} s)\n"
                            f"{read_md(out / 'gpu_memory.md')}")
        session.say(f"--- {name} done in {time.monotonic() - t0:.0f} s, "
                    f"{session.left():.0f} s left")

    total = time.monotonic() - session.start
    sections.append(f"total wall time of this run: {total:.0f} s")
    (args.out / "summary.md").write_text("\n\n".join(sections) + "\n")
    with tarfile.open(args.out / "results.tar.gz", "w:gz") as archive:
        # The rehearsal's copy of the checkout: its run's files only (below), not its code.
        archive.add(work, arcname="gpu_session",
                    filter=lambda info: None if info.name.startswith("gpu_session/checkout")
                    else info)
        for part in (Path("results/tables"), Path("results/figures"), Path("results/bench"),
                     Path("results/eval"), Path("logs"), Path(".snakemake/log")):
            if (checkout / part).exists():
                archive.add(checkout / part, arcname=str(part))
        for report in (checkout / "results" / "pruned").glob("*/*/prune_report.json"):
            archive.add(report, arcname=str(report.relative_to(checkout)))
    session.say(f"wrote {args.out / 'summary.md'} and {args.out / 'results.tar.gz'}")
    print((args.out / "summary.md").read_text(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
