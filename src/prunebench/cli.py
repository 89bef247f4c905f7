"""The `prunebench` command.

`prunebench plan`: what each configured variant will be, from model configs alone. No weights
are downloaded: a hub model's config.json is fetched alone (or read from
resources/models/<name>/ when present), `random:` and known architectures need nothing, the tiny
model not built yet is planned from its configured shape. Planning is arithmetic on configs,
which importing torch and transformers would slow down several times over: the configs are read
without them (`param_count.config_from_dict`) and the methods sized by the torch-free
`methods.sizing`.

`prunebench check-config FILE...`: the checks the workflow makes when it starts, on config files
stacked as `--configfile` stacks them; a YAML syntax error is named with its line and column.
Both commands take the files as arguments or after `--configfile`.

`prunebench prune|recover|bench|eval MODEL ...`: one checkpoint, no config, through the same
library code as the workflow (prunebench.commands; `prunebench <command> --help` shows an
example).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError, commands
from prunebench.commands.arguments import release_out_locks
from prunebench.logs import Terminated, raise_terminated, redact
from prunebench.hub import hub_auth, hub_reachable  # hub_reachable: the commands look it up here
from prunebench.plan.checks import STACKING_HINT, check_config, config_notes, stacking_hint
from prunebench.plan.config_files import load_config_files
from prunebench.plan.schema_errors import schema_problems
from prunebench.methods.registry import DATA_FREE, method_plan
from prunebench.plan import layout
from prunebench.plan.sizes import format_params, parse_size
from prunebench.plan.variants import prune_settings, variant_entries


def model_config(name: str, source: str, resources: Path, config: dict | None = None,
                 build: str = ""):
    """The config of the model `name` of the workflow config `config` (whose `embedded.model`
    shapes the tiny model), without its weights: its values as the counts and the methods'
    plans read them (`param_count.config_from_dict`, the family's transformers defaults for
    what a config.json omits), without transformers. `build`: the command that makes the tiny
    model, said where it is not built yet."""
    from prunebench.checkpoint.param_count import checkpoint_config, config_from_dict
    from prunebench.hub import parse_source

    local = resources / "models" / name
    if (local / "config.json").exists():
        return checkpoint_config(local)
    parsed = parse_source(source)
    if parsed.kind == "local":
        from prunebench.checkpoint.local_import import local_path, pruned_problem

        folder = local_path(parsed.name)
        if problem := pruned_problem(folder, name):  # it would be planned as dense
            raise PrunebenchError(f"models.{name}.source local:{parsed.name}: {problem}")
        return checkpoint_config(folder)
    if parsed.kind == "random":
        from prunebench.checkpoint.architectures import architecture_values

        return config_from_dict(architecture_values(parsed.name))
    if parsed.kind == "tiny":
        return untrained_tiny_config(name, local, config or {}, build)
    return hub_config(name, parsed.name, parsed.revision, local)


def untrained_tiny_config(name: str, local: Path, config: dict, build: str = ""):
    """The tiny model not built yet: its shape from `embedded.model`, at the largest vocabulary
    its tokenizer may learn (the embedded text gives it every entry: the counts are exact once
    the model is built, unless a setting shrinks the text). One line says so."""
    from prunebench.checkpoint.param_count import config_from_dict
    from prunebench.plan.checks import untrained_tiny_shape

    shape = untrained_tiny_shape(config)
    said = f" (`{build}` builds it)" if build else ""
    print(f"{name}: not built yet ({local}); planned with its configured shape and a "
          f"vocabulary of {shape['vocab_size']}, the most its tokenizer learns{said}",
          file=sys.stderr)
    return config_from_dict(shape)  # counts as tiny_config(**shape), the built model's LlamaConfig


def hub_config(name: str, repo_id: str, revision: str | None, local: Path):
    """A hub model's config.json alone: from the hub cache, else downloaded; when the hub is
    unreachable, the published shape of the architecture its id names (one line says so)."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    from prunebench.checkpoint.architectures import architecture_values, known_shape_of
    from prunebench.checkpoint.param_count import checkpoint_config, config_from_dict

    cached = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if isinstance(cached, str):
        return checkpoint_config(Path(cached).parent)
    if hub_reachable():
        token = hub_auth()  # a malformed HF_TOKEN is said, not taken for a failed download
        try:
            return checkpoint_config(Path(hf_hub_download(repo_id, "config.json",
                                                          revision=revision,
                                                          token=token)).parent)
        except Exception as err:  # noqa: BLE001 - any hub failure: say what to do
            failure = type(err).__name__
    else:
        failure = "the hub is unreachable from here"
    shape = known_shape_of(repo_id)
    if shape is None:
        raise PrunebenchError(f"cannot fetch config.json of {repo_id} ({failure}); download the "
                              f"model first or copy its config.json to {local}/")
    print(f"{name}: no config.json of {repo_id} ({failure}); planning with the published "
          f"shape of {shape} (prunebench.checkpoint.architectures)", file=sys.stderr)
    return config_from_dict(architecture_values(shape))


def in_directory(config: dict, directory: str | Path | None) -> dict:
    """The config as a run given `--directory DIR` reads it: Snakemake works in DIR, so a
    relative `local:` folder, or file of `texts`, is read there, not where the command runs."""
    if directory is None:
        return config

    def there(path: Any) -> Any:
        relative = isinstance(path, str) and not Path(path).expanduser().is_absolute()
        return str(Path(directory).resolve() / path) if relative else path

    config = dict(config)
    if isinstance(models := config.get("models"), dict):
        moved = {}
        for name, spec in models.items():
            source = spec.get("source") if isinstance(spec, dict) else None
            if isinstance(source, str) and source.startswith("local:"):
                spec = {**spec, "source": f"local:{there(source.removeprefix('local:'))}"}
            moved[name] = spec
        config["models"] = moved
    if isinstance(texts := config.get("texts"), dict):
        config["texts"] = {name: {**spec, **{split: there(spec[split]) for split in
                                             ("train", "test") if split in spec}}
                           if isinstance(spec, dict) else spec for name, spec in texts.items()}
    return config


def plan_rows(config_files: str | Path | list[str | Path],
              resources: str | Path = "resources",
              directory: str | Path | None = None) -> list[dict]:
    """One row per variant of the config files (stacked as `--configfile` stacks them): its
    size and blocks, and `kv_bytes`, the KV cache one generated token adds in the benchmarks'
    dtype, `kv_dtype` (None where the method's data decides which heads stay; for a depth
    method whose removable blocks cache unlike numbers of heads, `kv_bytes_range`, the fewest
    and the most its choice can leave). `directory`:
    the run's `--directory` (in_directory)."""
    from prunebench.checkpoint.param_count import (block_count, count_params, kv_bytes_of,
                                                   kv_bytes_per_token, kv_head_count,
                                                   layer_shapes)

    files = config_files if isinstance(config_files, list) else [config_files]
    config = in_directory(load_config_files(files), directory)
    # The shape of its `models` first (missing, empty, a model without source or variants, a
    # variants string), as `check-config` says it; plan reads nothing else of the config.
    problems = [p for p in schema_problems(config) if p.startswith("models") or "'models'" in p]
    if problems:
        raise PrunebenchError(f"the config has {len(problems)} problem(s):\n  "
                              + "\n  ".join(problems))
    kv_dtype = benchmark_dtype(config)
    rows = []
    # A model or variant that cannot be planned gets a row with its `error`; the others are
    # still planned (one unreachable hub model must not hide the rest).
    for name, spec in config["models"].items():
        build = layout.model_build_command(name, directory, files)
        try:
            model_cfg = model_config(name, spec["source"], Path(resources), config, build)
        except PrunebenchError as err:
            rows.append({"model": name, "variant": "(all)", "error": str(err)})
            continue
        dense = count_params(model_cfg)
        dense_kv = kv_head_count(layer_shapes(model_cfg))
        for entry in variant_entries(config, name):
            # A `+lora` variant has its base's size (merged adapters add no parameters).
            row = {"model": name, "variant": entry["name"], "dense_params": dense,
                   "kv_dtype": kv_dtype, "dense_kv_bytes": kv_bytes_of(
                       model_cfg, layer_shapes(model_cfg), DTYPE_BYTES[kv_dtype])}
            try:
                if entry["method"] == "dense":
                    row.update(params_after=dense, blocks_after=block_count(model_cfg),
                               kv_heads_kept=dense_kv)
                else:
                    target = parse_size(entry["size"], dense)
                    settings = prune_settings(config, name, entry["base"])
                    row.update(target_params=target,
                               **method_plan(entry["method"])(model_cfg, target,
                                                              **settings["params"]))
                    if entry["method"] not in DATA_FREE:  # the text the prune will read
                        row["calibration"] = format_calibration(settings["calibration"])
            except PrunebenchError as err:
                rows.append({"model": name, "variant": entry["name"], "error": str(err)})
                continue
            kept = row.pop("kv_heads_kept", None)  # a plan() without it: data-dependent
            row["kv_bytes"] = (row["dense_kv_bytes"] if entry["method"] == "dense"
                               else None if kept is None
                               else kv_bytes_per_token(model_cfg, kept, DTYPE_BYTES[kv_dtype]))
            # (where the criterion's choice decides it: the fewest and the most bytes it leaves)
            if between := row.pop("kv_heads_kept_range", None):
                row["kv_bytes_range"] = [kv_bytes_per_token(model_cfg, heads,
                                                            DTYPE_BYTES[kv_dtype])
                                         for heads in between]
            rows.append(row)
    return rows


# Bytes of one cached value in the benchmarks' dtype: `auto` is float16 on a GPU, what the plan
# is for (float32 on a CPU, as the column's header says; `device: cpu` counts in float32).
DTYPE_BYTES = {"auto": 2, "float16": 2, "bfloat16": 2, "float32": 4}


def benchmark_dtype(config: dict) -> str:
    """The config's `benchmark.dtype`, or the schema's default where it leaves it out (or
    its `benchmark` is no mapping, which check-config refuses); one the schema does not allow
    is refused here, as plan reads no other check of the config."""
    from prunebench.plan.config_files import schema_defaults

    benchmark = config.get("benchmark")
    dtype = ((benchmark.get("dtype") if isinstance(benchmark, dict) else None)
             or schema_defaults("benchmark")["dtype"])
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
        raise PrunebenchError(f"benchmark.dtype: {dtype!r} is not one of "
                              f"{', '.join(DTYPE_BYTES)} (the plan's KV cache column counts in it)")
    # `auto` on a run whose device is the CPU is float32 there: count what that run will hold
    if dtype == "auto" and config.get("device") == "cpu":
        return "float32"
    return dtype


def kv_header(rows: list[dict]) -> str:
    """'KV cache / token (float16)': the dtype the plan's KV cache column is counted in."""
    dtype = next((r["kv_dtype"] for r in rows if "kv_dtype" in r), "auto")
    return ("KV cache / token (float16 on a GPU: dtype auto; float32, twice these, on a CPU)"
            if dtype == "auto" else f"KV cache / token ({dtype})")


def format_calibration(calibration: dict) -> str:
    """'bookcorpus 10x128 seed 1234 row_slice_inclusive': the windows a prune will draw."""
    return (f"{calibration['source']} {calibration['n']}x{calibration['length']} "
            f"seed {calibration['seed']} {calibration['sampling']}")


def format_kv(kv_bytes: int | None, dense_kv_bytes: int,
              kv_bytes_range: list[int] | None = None) -> str:
    """'368 KiB (72%)': per generated token, and against the dense model's (as
    docs/families.md writes it); where the criterion's choice decides it, 'data-dependent:
    48 KiB (50%) to 72 KiB (75%)', the fewest and the most it can leave."""
    if kv_bytes is None and kv_bytes_range:
        fewest, most = (format_kv(b, dense_kv_bytes) for b in kv_bytes_range)
        return f"data-dependent: {fewest} to {most}"
    if kv_bytes is None:
        return "data-dependent"
    kib = f"{kv_bytes / 1024:,.1f}".removesuffix(".0")
    return f"{kib} KiB ({kv_bytes / dense_kv_bytes:.0%})" if dense_kv_bytes else f"{kib} KiB"


def format_rows(rows: list[dict]) -> str:
    shown = ("model", "variant", "dense_params", "target_params", "params_after", "blocks_after",
             "kv_bytes", "kv_bytes_range", "dense_kv_bytes", "kv_dtype")
    lines = [f"| model | variant | target | params after | blocks after | {kv_header(rows)} "
             "| plan |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['variant']} | - | - | - | - | "
                         "not planned: see below |")
            continue
        details = {k: v for k, v in r.items() if k not in shown}
        after, blocks = r.get("params_after"), r.get("blocks_after", "-")
        lines.append(f"| {r['model']} | {r['variant']} | "
                     f"{format_params(r['target_params']) if r.get('target_params') else '-'} | "
                     f"{f'{after:,} ({format_params(after)})' if after else 'data-dependent'} | "
                     f"{'data-dependent' if blocks is None else blocks} | "
                     f"{format_kv(r['kv_bytes'], r['dense_kv_bytes'], r.get('kv_bytes_range'))}"
                     " | "
                     f"{', '.join(f'{k}={v}' for k, v in details.items())} |")
    return "\n".join(lines)


class Parser(argparse.ArgumentParser):
    """argparse's parser (its subcommands' too), whose "expected one argument" also says how to
    give a value that starts with '-': argparse reads `--tokens -1x8` as two options."""

    def error(self, message: str):
        if message.endswith("expected one argument"):
            message += (" (a value that starts with '-' is read as an option: join it to its "
                        "option with '=', e.g. --tokens=-1x8)")
        super().error(message)


# What a command run again after an interruption does not do twice (the progress it kept).
RESUMES = {
    "recover": "it resumes from its last save",
    "bench": "it resumes from its finished batch sizes",
    "eval": "it reads back its finished perplexities and the zero-shot answers scored so far "
            "(of a checkpoint with a prunebench manifest; others start again)",
    "prune": "a depth_ppl or sleb prune reads back the calibration losses it computed; the "
             "other methods start again",
}

# What `prunebench --help` says (the module docstring above is for readers of the code).
DESCRIPTION = """\
Structured pruning of LLMs and what it buys at generation time, one command per step.

  prunebench plan          what each configured variant will be (its size, blocks, KV cache),
                           from the model configs alone: no weights are downloaded
  prunebench check-config  the checks the workflow makes when it starts, on config files
                           stacked as Snakemake's --configfile stacks them
  prunebench prune|recover|bench|eval MODEL ...
                           one checkpoint, no config: the workflow's steps, through the same
                           library code, writing the same files
  prunebench usage         what a run's jobs spent, by rule: wall, GPU and CPU time, peak
                           memory, attempts (failed, retried, killed) from the jobs' records

The whole study (every model, variant, benchmark and evaluation, then the tables and figures)
is the Snakemake workflow: `snakemake --cores all` (README.md). `prunebench <command> --help`
lists a command's options, with an example."""


DIRECTORY_HELP = ("the directory the run will work in, the --directory given to snakemake "
                  "(runs/<name>): relative local: folders and its resources folder are read "
                  "there, as the run reads them (default: here)")


def usage_report(args) -> str:
    """`prunebench usage`: the jobs' records under the run's logs/, summed."""
    from prunebench import usage

    if args.jobs and args.json:  # --json's rows are by rule: --jobs was dropped unsaid
        raise PrunebenchError("--jobs shapes the table, which --json replaces: the JSON holds "
                              "every attempt with its rule and cell, to group by job; drop "
                              "--jobs or --json")
    if not Path(args.directory).is_dir():  # a typo: not a run that has kept no records yet
        what = "is a file" if Path(args.directory).exists() else "does not exist"
        raise PrunebenchError(f"--directory {args.directory} {what}: give the folder of the run, "
                              "the --directory given to snakemake (e.g. runs/paper)")
    attempts = usage.read_attempts(args.directory)
    if not attempts:
        raise PrunebenchError(
            f"no job records under {Path(args.directory) / 'logs'}: each workflow job keeps "
            "one beside its log under logs/ (.<log name>.usage.jsonl) from its start; give "
            "the run's --directory, or run the workflow there first")
    if args.latest_run:
        run = usage.latest_run(attempts)
        attempts = [a for a in attempts if a.run == run]
    if args.json:
        return json.dumps(usage.summary_json(attempts), indent=1)
    return usage.format_summary(attempts, jobs=args.jobs)


def resources_of(args) -> str | Path:
    """`--resources`, else the resources folder of the run's `--directory`."""
    if args.resources is not None:
        return args.resources
    return Path(args.directory) / "resources" if args.directory else "resources"


def add_config_arguments(parser: argparse.ArgumentParser, *, files: str, configfile: str,
                         resources: str) -> None:
    """plan's and check-config's arguments: the config files (as arguments or after
    --configfile), the resources folder and the run's --directory; each with its own help."""
    parser.add_argument("files", nargs="*", metavar="FILE", help=files)
    parser.add_argument("--configfile", nargs="+", action="extend", metavar="FILE",
                        help=configfile)
    parser.add_argument("--resources", default=None, metavar="DIR", help=resources,
                        type=folder_option("the workflow's resources folder (resources, in "
                                           "the run's --directory)"))
    parser.add_argument("--directory", metavar="DIR", help=DIRECTORY_HELP,
                        type=folder_option("the folder the run works in, the --directory "
                                           "given to snakemake (e.g. runs/paper)"))


def folder_option(what: str):
    """An argparse type for a folder option of plan and check-config: a file is refused (it
    was read as a folder holding nothing, and the config passed as if the run had no models on
    disk). A folder that is not there yet is taken: a run's --directory that Snakemake will
    make."""
    def folder(text: str) -> str:
        if Path(text).exists() and not Path(text).is_dir():
            raise argparse.ArgumentTypeError(f"{text} is a file, not a folder: give {what}")
        return text
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="prunebench", description=DESCRIPTION,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    add_config_arguments(
        sub.add_parser("plan", help="print each variant's solved size from the configs alone",
                       epilog="example: prunebench plan --configfile config/paper.yaml"),
        files="config files, stacked left to right (as check-config takes them)",
        configfile="config files, stacked left to right as Snakemake's --configfile stacks "
                   "them (default: config/config.yaml)",
        resources="the workflow's resources folder, where downloaded or imported models' "
                  "config.json are read first (default: resources, in --directory)")
    add_config_arguments(
        sub.add_parser("check-config", help="check config files as the workflow does at start",
                       epilog="example: prunebench check-config config/config.yaml "
                              "my-models.yaml"),
        files="config files, stacked left to right",
        configfile="the same, as Snakemake's --configfile (and `prunebench plan`) take them",
        resources="the workflow's resources folder, where models are looked up as the "
                  "workflow does (default: resources, in --directory)")
    usage_parser = sub.add_parser(
        "usage", help="what a run's jobs spent, by rule, from the records they keep",
        epilog="example: prunebench usage --directory runs/paper --latest-run")
    usage_parser.add_argument("--directory", metavar="DIR", default=".",
                              help="the run's directory, the --directory given to snakemake "
                                   "(default: here)")
    usage_parser.add_argument("--jobs", action="store_true",
                              help="one row per job (rule and cell) instead of per rule")
    usage_parser.add_argument("--latest-run", action="store_true",
                              help="only the attempts of the newest snakemake run (default: "
                                   "every run in the directory)")
    usage_parser.add_argument("--json", action="store_true",
                              help="the rows and every attempt as JSON, times in seconds")
    commands.add_parsers(sub)
    args = parser.parse_args(argv)
    if args.command in ("plan", "check-config"):
        # Both commands take the files either way, as arguments or after --configfile (as
        # Snakemake does), not both: their order would be lost.
        if args.files and args.configfile:
            parser.error(f"{args.command}: give the config files as arguments or after "
                         "--configfile, not both (their order is the stacking order)")
        args.files = args.files or args.configfile
        if args.command == "check-config" and not args.files:
            parser.error("check-config: name the config files to check, e.g. "
                         "`prunebench check-config config/config.yaml my.yaml`")
    code = 0
    try:
        if hasattr(args, "run"):  # prune, recover, bench, eval
            # SIGTERM (kill, a batch system's time limit) ends the command as Ctrl-C does: the
            # output being written is dropped whole, and the message below is said.
            # (Python lets only its main thread set a handler: main() called from another
            # thread leaves SIGTERM as it is.)
            in_main = threading.current_thread() is threading.main_thread()
            before = signal.signal(signal.SIGTERM, raise_terminated) if in_main else None
            try:
                commands.setup_logging(args.quiet)
                with commands.without_progress_bars(args.quiet):
                    args.run(args)
            finally:
                if in_main:  # None: a handler set from C, which cannot be put back but as default
                    signal.signal(signal.SIGTERM, signal.SIG_DFL if before is None else before)
                release_out_locks()
        elif args.command == "usage":
            print(usage_report(args))
        elif args.command == "plan":
            rows = plan_rows(args.files or ["config/config.yaml"], resources_of(args),
                             args.directory)
            print(format_rows(rows))
            failed = [r for r in rows if "error" in r]
            for r in failed:
                print(f"error: model {r['model']}, variant {r['variant']}: {r['error']}",
                      file=sys.stderr)
            code = 2 if failed else 0
        else:
            config = in_directory(load_config_files(args.files), args.directory)
            try:
                check_config(config, resources=resources_of(args), files=args.files)
            except PrunebenchError as err:
                # an override file checked alone (config/depth-family.yaml): its own stack
                raise PrunebenchError(str(err).replace(
                    STACKING_HINT, stacking_hint(args.files))) from None
            print(f"{' + '.join(args.files)}: no problem found")
            for note in config_notes(config, resources_of(args)):
                print(f"note: {note}")
        sys.stdout.flush()  # here, where a closed pipe is caught below, not at exit
        return code
    except PrunebenchError as err:
        print(f"error: {redact(str(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # Ctrl-C: outputs are written whole or not at all
        print("interrupted: no output was written; run the command again: "
              f"{RESUMES.get(args.command, 'it starts again')}", file=sys.stderr)
        return 143 if isinstance(interrupt, Terminated) else 130
    except BrokenPipeError:  # `prunebench plan | head`: the reader has gone, nothing to say
        # Python's advice: point stdout at devnull, so its flush at exit raises nothing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
