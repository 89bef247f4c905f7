"""One checkpoint, no config: `prunebench prune`, `recover`, `bench` and `eval`.

Each command calls the library functions the workflow's rule scripts call (prune_checkpoint,
draw_windows, recover_checkpoint, run_sweep, perplexity, zeroshot.evaluate) with the workflow's
defaults (read from
workflow/schemas/config.schema.yaml: workflow_defaults), and writes the files a workflow cell
writes, with their provenance. Everything that can be checked before a weight is loaded is
checked first (method, size, parameters, token config, output folder: arguments), and every
output is written through prunebench.atomic: an interrupted command leaves nothing that looks
complete.

MODEL is a checkpoint directory (config.json, safetensors weights, tokenizer), a `prunebench
prune` output folder (its `checkpoint/` is used, and its prune report names the variant), or
`hf:<org>/<repo>@<revision>`, downloaded once into the cache folder (`--cache-dir`), where the
language model of a multimodal checkpoint directory (Gemma-3 4B-27B, Mistral-Small 3.x) is
imported once too: model_source.

This module builds the four subcommands' parsers (`add_parsers`, called by prunebench.cli) and
their progress lines (`setup_logging`); prune, recover, bench and evaluation run them.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from prunebench.commands.arguments import (at_least, device_spec, model_name, non_negative_int,
                                           out_path, parse_limit, positive_float, positive_int,
                                           seconds_cap, share)
from prunebench.commands.bench import bench_command
from prunebench.commands.evaluation import eval_command
from prunebench.commands.prune import prune_command
from prunebench.commands.recover import LORA_OPTIONS, recover_command
from prunebench.commands.workflow_defaults import (ATTENTIONS, BENCH_BACKEND, BENCH_BACKENDS,
                                                   BENCH_DEFAULTS, BENCH_DTYPES, BOS_MODES,
                                                   COMPILE_MODES, DEVICE, EVAL_DTYPES,
                                                   INSTRUCTION_SOURCES,
                                                   LORA_DATA_DEFAULTS, LORA_DEFAULTS,
                                                   LORA_TEMPLATES, PPL_DEFAULTS,
                                                   ZEROSHOT_DEFAULTS)
from prunebench.methods.registry import CALIBRATION_SEED, METHODS
from prunebench.logs import RedactingFormatter

PRUNE_EXAMPLE = """example:
  prunebench prune resources/models/tiny --method depth_ppl --size 0.8 --out pruned/tiny-ppl \\
      --calibration embedded --param protect_first=1
  prunebench prune hf:huggyllama/llama-7b@4782ad27 --method flap --size 4.9B --out pruned/flap

writes OUT/checkpoint/ (the pruned model) and OUT/prune_report.json, as the workflow's
results/pruned/<model>/<variant>/. Sizes: 4.9B / 350M (parameters kept) or 0.8 (kept fraction).
Calibration defaults to the method original's data (wikitext2, bookcorpus, c4, pg19: hub
datasets); `embedded` is the pipeline's own text and needs no network."""

RECOVER_EXAMPLE = """example:
  prunebench recover pruned/tiny-ppl --out pruned/tiny-ppl-lora --data embedded \\
      --template plain --max-train 128 --val-size 32 --epochs 1 --lr 2e-3 --batch-size 16 \\
      --warmup-steps 2
  prunebench recover pruned/flap --out pruned/flap-lora

writes OUT/checkpoint/ (the merged model; it loads without peft) and OUT/prune_report.json (the
base's report plus `recovery`), as the workflow's results/pruned/<model>/<variant>+lora/; a
dense MODEL gives the workflow's dense+lora (its base report is the dense variant's).
Settings default to the study's (config/README.md, `lora`): Alpaca-cleaned, a hub dataset,
2 epochs of batches of 64. A run is epochs x ceil(training records / batch size) steps, so
--max-train and --epochs shorten it. `--data embedded` makes instruction records from the
pipeline's own text and needs no network. --setting KEY=VALUE sets any other `lora` key
(dropout=0.1, amp=bfloat16, gradient_checkpointing=true, target_modules=q_proj,v_proj)."""

BENCH_EXAMPLE = f"""example:
  prunebench bench pruned/tiny-ppl --tokens 12x128 --batch 1,8,64 --backend hf

prints latency, throughput, CV and flags per batch size, and writes the workflow's benchmark
JSON (default: ./bench-<model>-<variant>-<backend>-<in>x<out>.json). Defaults are the
workflow's: {BENCH_DEFAULTS['warmup']} warm-up and {BENCH_DEFAULTS['repeats']} timed runs, \
adaptive up to {BENCH_DEFAULTS['max_repeats']} or {BENCH_DEFAULTS['max_seconds']:g} s per batch \
size.

  prunebench bench pruned/tiny-ppl --against resources/models/tiny --tokens 12x128 --batch 1,16

times the pruned model and its dense model in turns (--repeats pairs per batch size) and prints
each speed-up with its paired 95% interval (default: ./paired-<model>-<variant>-...json).

  prunebench bench pruned/tiny-ppl --tokens 12x128 --batch 1 --backend compiled --profile-steps 32

also profiles 32 decode steps per batch size after its timed runs and prints where each step's
time goes (the JSON rows keep it as kernel_profile)."""

EVAL_EXAMPLE = """example:
  prunebench eval pruned/tiny-ppl --ppl embedded --tasks pb_agreement,pb_number --limit 50
  prunebench eval hf:huggyllama/llama-7b@4782ad27 --ppl wikitext2,ptb --tasks arc_easy,piqa

writes ppl.json and/or zeroshot.json + lm_eval.json into --out (default
./eval-<model>-<variant>/), as the workflow's results/eval/<model>/<variant>/. `embedded` and
the pb_* tasks (pb_agreement, pb_number, pb_counting, pb_continuation) are made offline from
the pipeline's own text; wikitext2, ptb and lm-eval's tasks need their hub datasets."""

# What `--batch` defaults to: prunebench.benchmark.DEFAULT_BATCH_SIZES, written out because
# that module imports torch, which building the parsers must not
# (test_single_checkpoint.py checks that the two agree).
BATCH_HELP = ("batch sizes, e.g. 1,8,64 (default 1,8,16,32,64,128,256; the sweep stops at the "
              "first out-of-memory)")


# The options' own checks, so that a bad value is named by the option typed (the settings'
# check names the config key); data and template are checked against their choices.
LORA_TYPES = {
    **dict.fromkeys(("rank", "epochs", "batch_size", "micro_batch_size", "val_size",
                     "max_train", "eval_every"), positive_int),
    "max_length": at_least(2), "warmup_steps": non_negative_int, "seed": non_negative_int,
    "lr": positive_float,
}

LORA_HELP = {
    "data": f"instruction records: {' or '.join(INSTRUCTION_SOURCES)} (alpaca: Alpaca-cleaned, "
            "a hub dataset; embedded: made offline)",
    "val_size": "records held out for the validation loss",
    "max_train": "train on the first N records only (default: all)",
    "rank": "LoRA rank",
    "epochs": "passes over the training records",
    "lr": "peak learning rate",
    "batch_size": "records per optimizer step",
    "micro_batch_size": "records per forward pass (gradients accumulated)",
    "max_length": "tokens per record",
    "template": f"prompt template: {' or '.join(LORA_TEMPLATES)}",
    "warmup_steps": "optimizer steps of warm-up",
    "eval_every": "validate every N steps (default: at the end of each epoch)",
    "seed": "adapter initialisation, dropout and record order",
}


def _common(parser, model_help: str) -> None:
    parser.add_argument("model", metavar="MODEL", type=model_name, help=model_help)
    parser.add_argument("--device", default=DEVICE, type=device_spec,
                        help="auto (CUDA when present), cpu, cuda:N")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing output (only once the new one is complete)")
    parser.add_argument("--cache-dir", default=None,
                        help="where hf: models are downloaded, and the language model of "
                             "a multimodal checkpoint folder imported (default "
                             "$PRUNEBENCH_CACHE_DIR/models or ~/.cache/prunebench/models)")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="let a tokenizer run code shipped with it (review it first); "
                             "an hf: model is downloaded with its code files")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress lines or bars (errors, warnings and results still)")


def add_parsers(sub) -> None:
    """The four subcommands on `prunebench`'s subparsers."""
    model_help = ("checkpoint directory, `prunebench prune` output folder, or "
                  "hf:<org>/<repo>@<revision>")
    formatter = argparse.RawDescriptionHelpFormatter
    prune = sub.add_parser("prune", help="prune one checkpoint to one size",
                           epilog=PRUNE_EXAMPLE, formatter_class=formatter,
                           description="Prune MODEL with one method to one size, as a workflow "
                                       "prune cell does.")
    _common(prune, "checkpoint directory or hf:<org>/<repo>@<revision>")
    prune.add_argument("--method", required=True, help=f"pruning method: {', '.join(METHODS)}")
    prune.add_argument("--size", required=True, help="target: 4.9B, 350M, or a kept fraction 0.8")
    prune.add_argument("--out", type=out_path, required=True, help="output folder")
    # Calibration options default to None: unset, the method's own settings apply
    # (methods.registry.resolve_calibration), as in the workflow.
    prune.add_argument("--calibration", dest="source", default=None,
                       help="embedded, wikitext2, ptb, bookcorpus, c4, pg19, tatsu_alpaca, or a "
                            "text of your own, file:<path> (.jsonl: one JSON object a line; else one row a "
                            "line) (default: the method's)")
    prune.add_argument("--text-field", default=None,
                       help="the field of a file:<path>.jsonl's objects holding the text "
                            "(default text)")
    prune.add_argument("--n", type=positive_int, default=None, help="calibration windows")
    prune.add_argument("--length", type=at_least(2), default=None, help="tokens per window")
    prune.add_argument("--seed", type=non_negative_int, default=None,
                       help=f"calibration seed (default {CALIBRATION_SEED})")
    prune.add_argument("--sampling", default=None, help="how windows are drawn (config/README.md)")
    prune.add_argument("--param", action="append", metavar="K=V",
                       help="method parameter, repeatable (numbers and true/false are parsed)")
    prune.set_defaults(run=prune_command)

    recover = sub.add_parser("recover", help="LoRA recovery of one pruned (or dense) checkpoint",
                             epilog=RECOVER_EXAMPLE, formatter_class=formatter,
                             description="Fine-tune MODEL with LoRA and merge the best adapter, "
                                         "as a workflow `<variant>+lora` cell does (a dense "
                                         "model: `dense+lora`).")
    _common(recover, "a `prunebench prune` output folder (or the workflow's "
                     "results/pruned/<model>/<variant>/); a dense checkpoint directory or "
                     "hf:<org>/<repo>@<revision> gives dense+lora")
    recover.add_argument("--out", type=out_path, required=True, help="output folder")
    defaults = {**LORA_DEFAULTS, **{f"data.{k}": v for k, v in LORA_DATA_DEFAULTS.items()}}
    for option, key in LORA_OPTIONS.items():
        default = defaults[key]
        shown = "" if default is None else f", default {default}"
        recover.add_argument(f"--{option.replace('_', '-')}", type=LORA_TYPES.get(option, str),
                             default=default,
                             help=f"{LORA_HELP[option]} (lora.{key}{shown})")
    recover.add_argument("--setting", action="append", metavar="KEY=VALUE",
                         help="any other lora setting, repeatable (config/README.md)")
    recover.set_defaults(run=recover_command)

    bench = sub.add_parser("bench", help="benchmark generation over batch sizes",
                           epilog=BENCH_EXAMPLE, formatter_class=formatter,
                           description="Time generation of MODEL over batch sizes, as a workflow "
                                       "benchmark cell does.")
    _common(bench, model_help)
    bench.add_argument("--tokens", required=True, help="<input>x<output> tokens, e.g. 12x128")
    bench.add_argument("--batch", default=None, help=BATCH_HELP)
    bench.add_argument("--backend", default=BENCH_BACKEND,
                       help=f"{' or '.join(BENCH_BACKENDS)} (hf: HF generate; hf_static: HF "
                            "generate with its static KV cache, compiled by transformers on a "
                            "GPU; compiled: our static-cache decoder)")
    bench.add_argument("--out", type=out_path, default=None, help="JSON file to write")
    bench.add_argument("--against", default=None, metavar="DENSE", type=model_name,
                       help="time MODEL in turns with DENSE (the model it was pruned from), "
                            "--warmup warm-up pairs then --repeats timed pairs per batch size: "
                            "its speed-up with a paired 95%% interval (no adaptive repeats)")
    d = BENCH_DEFAULTS
    bench.add_argument("--warmup", type=at_least(1), default=d["warmup"],
                       help="untimed runs per batch size (at least 1: the first run pays "
                            "first-call costs)")
    bench.add_argument("--repeats", type=positive_int, default=d["repeats"],
                       help="timed runs per batch size, at least")
    bench.add_argument("--max-repeats", type=positive_int, default=d["max_repeats"],
                       help="timed runs at most, while the interval is wider than --ci-target "
                            "(at most --repeats: no adaptive runs)")
    bench.add_argument("--max-seconds", type=seconds_cap, default=d["max_seconds"],
                       help="no further timed run past this many seconds of them (inf: no "
                            "limit)")
    bench.add_argument("--ci-target", type=share, default=d["ci_target"],
                       help="a row is stable when its mean latency's 95%% interval is at most "
                            "this share of the mean wide each side (0.05: 5%%)")
    bench.add_argument("--dtype", default=d["dtype"], help=", ".join(BENCH_DTYPES))
    bench.add_argument("--attention", default=d["attention"], help=", ".join(ATTENTIONS))
    bench.add_argument("--compile-mode", default=d["compile_mode"],
                       help=f"the compiled backend's: {', '.join(COMPILE_MODES)}")
    bench.add_argument("--seed", type=non_negative_int, default=d["seed"])
    bench.add_argument("--profile-steps", type=non_negative_int, default=0, metavar="N",
                       help="after each batch size's timed runs, profile N decode steps: "
                            "kernels (on the CPU: operators) per step, busy time against the "
                            "span, the costliest ones (0: off; not with --against)")
    # A switch that turns sampling on: off unless given, which is the schema's default (the
    # drift test checks it).
    bench.add_argument("--sampling", action="store_true",
                       help="sample (top-k 50, top-p 0.95, T 1) as the study did, on either "
                            "backend")
    bench.set_defaults(run=bench_command)

    evaluate = sub.add_parser("eval", help="perplexity and zero-shot accuracy",
                              epilog=EVAL_EXAMPLE, formatter_class=formatter,
                              description="Evaluate MODEL as the workflow's perplexity and "
                                          "zero-shot cells do.")
    _common(evaluate, model_help)
    evaluate.add_argument("--ppl", default=None,
                          help="datasets, comma-separated: embedded, wikitext2, ptb, or a text "
                               "of your own, file:<path> (.jsonl: its rows joined by a blank "
                               "line; else the file as it is; an existing file's commas are "
                               "kept in its path)")
    evaluate.add_argument("--text-field", default=None,
                          help="the field of a file:<path>.jsonl's objects holding the text "
                               "(default text)")
    evaluate.add_argument("--tasks", default=None, help="lm-eval tasks, comma-separated")
    evaluate.add_argument("--out", type=out_path, default=None, help="output folder")
    p, z = PPL_DEFAULTS, ZEROSHOT_DEFAULTS
    evaluate.add_argument("--window", type=at_least(2), default=p["window"])
    evaluate.add_argument("--stride", type=positive_int, default=p["stride"])
    evaluate.add_argument("--bos", default=p["bos"], help=" or ".join(BOS_MODES))
    evaluate.add_argument("--max-windows", type=positive_int, default=p["max_windows"])
    evaluate.add_argument("--tokenization", default="tokenizer",
                          help="tokenizer, or sentencepiece_legacy (as the study's code: "
                               "transformers 4.x's slow LlamaTokenizer; needs tokenizer.model): "
                               "of the --ppl hub texts and of every --tasks request")
    # One option for two workflow settings: unset, each part takes its own default.
    evaluate.add_argument("--batch-size", type=positive_int, default=None,
                          help=f"default {p['batch_size']} (perplexity), {z['batch_size']} (tasks)")
    evaluate.add_argument("--num-fewshot", type=non_negative_int, default=z["num_fewshot"])
    evaluate.add_argument("--limit", type=parse_limit, default=z["limit"],
                          help="first N documents per task (< 1: that fraction)")
    evaluate.add_argument("--zeroshot-seed", type=non_negative_int, default=z["seed"])
    evaluate.add_argument("--add-bos-token", action=argparse.BooleanOptionalAction,
                          default=z["add_bos_token"], help="start every context with BOS")
    # No default, as in the workflow's config: left out, the model runs in float32.
    evaluate.add_argument("--dtype", default=None,
                          help=f"{', '.join(EVAL_DTYPES)} (default float32; the study ran "
                               "float16; auto is float32 on CPU and float16 on CUDA, or "
                               "bfloat16 for a model stored in it where the GPU computes in "
                               "it natively)")
    evaluate.set_defaults(run=eval_command)


class _Stderr(logging.StreamHandler):
    """Writes to the sys.stderr of the moment (not the one at creation), so in-process callers
    that swap it (tests) see the lines."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


# Progress bars of tqdm, datasets and huggingface_hub, turned off through the environment
# variables each reads when it is imported: the commands import them only after the options are
# read, so `-q` reaches the bars prunebench cannot switch off by argument (lm-eval's task
# building, a dataset's preparation, a download).
QUIET_BARS = {"TQDM_DISABLE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
              "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


@contextlib.contextmanager
def without_progress_bars(quiet: bool):
    """With `quiet`, QUIET_BARS set while the command runs, and the caller's environment
    restored after it. The libraries read them once, when first imported, so this reaches the
    bars of a process that has not imported them yet (a `prunebench` command); lm-eval's
    scoring bars are switched off by argument (zeroshot.evaluate) wherever they run."""
    saved = {name: os.environ.get(name) for name in QUIET_BARS}
    if quiet:
        os.environ.update(QUIET_BARS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def setup_logging(quiet: bool) -> None:
    """Progress lines of the library (prunebench.*) on stderr, once per process."""
    logger = logging.getLogger("prunebench")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(RedactingFormatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
