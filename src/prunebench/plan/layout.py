"""Where every file of a run lives, written once. The patterns use Snakemake's wildcard syntax,
which is also `str.format`'s: the rule files use them as they are, the library fills them in
(`fill`). All paths are relative to the working directory, the checkout's root."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from prunebench.logs import redact

# Inputs the workflow prepares (resources/)
MODEL = "resources/models/{model}"
EMBEDDED = "resources/data/embedded"
EMBEDDED_TEXT = EMBEDDED + "/{split}.txt"  # train, validation, test
HUB_TEXT = "resources/data/text/{dataset}/{split}.txt"
# A text of your own (the config's `texts`, prunebench.local_text) is copied beside them: the
# text as HUB_TEXT, its rows (what calibration draws from) and where it came from.
LOCAL_TEXT_ROWS = "resources/data/text/{dataset}/{split}.rows.jsonl"
LOCAL_TEXT_ORIGIN = "resources/data/text/{dataset}/{split}.origin.json"
# `{sampling}` is "-<sampling>", or empty for the default (wrapped) sampling, so files drawn
# before `sampling` existed keep their names.
CALIBRATION = ("resources/data/calibration/{model}/"
               "{source}-{n}x{length}-seed{seed}{sampling}.safetensors")
INSTRUCTIONS = "resources/data/instructions/{source}.jsonl"
MC_SUITE = "resources/data/mc_suite"  # the offline lm-eval suite (prunebench.mc_suite)
LM_EVAL_DATA = "resources/data/lm_eval"  # pre-fetched hub datasets of lm-eval tasks
INDUCTOR_CACHE = "resources/cache/torchinductor"  # compiled kernels shared by every benchmark job
# Answers of zero-shot evaluations still running or interrupted (prunebench.zeroshot_progress),
# passed to the jobs through this environment variable, as the inductor cache is.
ZEROSHOT_PROGRESS = "resources/cache/zeroshot-progress"
ZEROSHOT_PROGRESS_VARIABLE = "PRUNEBENCH_ZEROSHOT_PROGRESS"
# Calibration losses of depth prunes still running or interrupted (prunebench.methods.loss_memo),
# passed the same way.
SCORING_PROGRESS = "resources/cache/scoring-progress"
SCORING_PROGRESS_VARIABLE = "PRUNEBENCH_SCORING_PROGRESS"
# The config's `trust_remote_code` ("1" or "0"), for the model downloads (prunebench.hub fetches
# a repository's code files only with it), passed the same way: no download reruns for it.
TRUST_REMOTE_CODE_VARIABLE = "PRUNEBENCH_TRUST_REMOTE_CODE"

# Results, one folder per cell (results/)
VARIANT = "results/pruned/{model}/{variant}"
CHECKPOINT = VARIANT + "/checkpoint"
PRUNE_REPORT = VARIANT + "/prune_report.json"
BENCH = "results/bench/{model}/{variant}/{backend}/{lin}x{lout}.json"
# A pruned variant and its dense model timed in turns (benchmark.paired)
PAIRED = "results/paired/{model}/{variant}/{backend}/{lin}x{lout}.json"
PPL = "results/eval/{model}/{variant}/ppl.json"
ZEROSHOT = "results/eval/{model}/{variant}/zeroshot.json"
LM_EVAL = "results/eval/{model}/{variant}/lm_eval.json"
TABLE = "results/tables/{table}.{ext}"
# What the tables and figures were made from (prunebench.results.aggregation_record).
TABLES_PROVENANCE = "results/tables/provenance.json"
SPEED_FIGURE = "results/figures/throughput_vs_latency_{backend}.{ext}"
QUALITY_FIGURE = "results/figures/quality_vs_speed.{ext}"


def fill(pattern: str, **values) -> str:
    """`pattern` with the given wildcards filled in and the others left as wildcards:
    `fill(PRUNE_REPORT, variant="dense")` is "results/pruned/{model}/dense/prune_report.json"."""
    for name, value in values.items():
        pattern = pattern.replace("{" + name + "}", str(value))
    return pattern


# The environment variable the workflow puts the run's arguments to repeat in for its jobs
# (`rerun_arguments`: shell text, each word quoted), which `remake_command` and the aggregation's
# commands append as written.
RERUN_CONFIG_VARIABLE = "PRUNEBENCH_RUN_CONFIGFILES"
PROFILE_OPTIONS = ("--workflow-profile", "--profile")


# ... and the Snakemake program the run was started with, as a rerun command names it
# (`program_argument`).
RERUN_PROGRAM_VARIABLE = "PRUNEBENCH_RUN_PROGRAM"


def snakemake_command(run_arguments: str | None, cores: str | int = "all") -> str:
    """The start of a rerun command for a run whose arguments to repeat are `run_arguments`
    (RERUN_CONFIG_VARIABLE): `snakemake --cores all` (the program as RERUN_PROGRAM_VARIABLE
    names it; `cores` for another count), but where they name a profile, which sets the cores
    itself: a `--cores all` before a cluster profile would override its `cores`."""
    program = os.environ.get(RERUN_PROGRAM_VARIABLE) or "snakemake"
    try:
        words = shlex.split(run_arguments or "")
    except ValueError:  # THIS_RUN (report.load), the words asking for them, is no shell text
        words = (run_arguments or "").split()
    if any(word == option or word.startswith(option + "=")
           for word in words for option in PROFILE_OPTIONS):
        return program
    return f"{program} --cores {shlex.quote(str(cores))}"


def command_line(*words: str, run_arguments: str | None = None, cores: str | int = "all",
                 fill_in: str = "") -> str:
    """The `snakemake` command a message tells the user to type, which every such message
    builds here: `snakemake_command`, then `words`, each quoted for a shell (a path with a space
    or a quote stays one word when pasted), then `fill_in` as written (words the reader
    fills in: `<those files>`), then `run_arguments`, the run's arguments to repeat, as written:
    they are shell text already (`rerun_arguments` quotes each of their words; `--config` must
    come last, as it takes every word up to the next option)."""
    return " ".join(filter(None, [snakemake_command(run_arguments, cores), shlex.join(words),
                                  fill_in, run_arguments]))


def remake_command(*words: str) -> str:
    """`snakemake --cores all <words>` and the run's arguments to repeat (RERUN_CONFIG_VARIABLE,
    which a run sets for its jobs): the command a job's message gives to remake a file. It is
    typed in the checkout, where without the run's --directory and config files Snakemake would
    read the file's path there, under the default config."""
    return command_line(*words, run_arguments=os.environ.get(RERUN_CONFIG_VARIABLE))


def model_build_command(model: str, directory: str | Path | None = None,
                        config_files: list[str | Path] | tuple = ()) -> str:
    """The command that makes the workflow's model `model` (MODEL): Snakemake reads a target in
    the run's directory, where the model rule writes it, so a run elsewhere is named by its
    --directory (a path from the checkout is no rule's output)."""
    return command_line(*(["--directory", str(directory)] if directory else []),
                        fill(MODEL, model=model),
                        *(["--configfile", *map(str, config_files)] if config_files else []))


def _directory_option(argv: list[str]) -> str | None:
    """The `--directory` (`-d`) value the `snakemake` command line `argv` gives, the last one
    where it gives several, as argparse keeps; None where it gives none."""
    found = None
    for i, word in enumerate(argv[1:], 1):
        if word in ("--directory", "-d") and i + 1 < len(argv):
            found = argv[i + 1]
        elif word.startswith("--directory="):
            found = word.split("=", 1)[1]
        elif word.startswith("-d") and not word.startswith("--") and len(word) > 2:
            found = word[2:]
    return found


def started_in(argv: list[str], workdir: str, pwd: str | None = None) -> str:
    """The directory the `snakemake` command line `argv` was typed in, where its relative paths
    (`.venv/bin/snakemake`, `--workflow-profile profiles/slurm`) are found. Snakemake's
    `workflow.workdir_init` is it only without `--directory`: with it, Snakemake has changed
    into that folder before reading the Snakefile, and `.venv/bin/snakemake` read from
    `runs/mine` names no program. The shell's `PWD` (`pwd`, from the environment by default) is
    taken where the folder given is found from it; else a relative `--directory` is taken off the
    end of `workdir` (`runs/mine` off `/checkout/runs/mine`); else `workdir`."""
    directory = _directory_option(argv)
    if directory is None:
        return workdir
    directory = os.path.expanduser(directory)
    here = os.path.realpath(workdir)
    pwd = os.environ.get("PWD") if pwd is None else pwd
    # PWD is the shell's, which os.chdir does not change: stale where a program started
    # Snakemake from another folder without a shell, so it is checked against the folder.
    if pwd and os.path.isabs(pwd) and \
            os.path.realpath(os.path.join(pwd, directory)) == here and \
            (not os.path.isabs(directory) or os.path.isdir(pwd)):
        return pwd
    parts = os.path.normpath(directory).split(os.sep)
    if not os.path.isabs(directory) and ".." not in parts:
        start = workdir
        for part in reversed([p for p in parts if p not in ("", ".")]):
            if os.path.basename(start) != part:
                return workdir
            start = os.path.dirname(start)
        return start
    return workdir


def program_argument(argv: list[str], invoked_in: str, cwd: str | None = None,
                     checkout: str | None = None, python: str | None = None) -> str:
    """How the rerun commands a run suggests name Snakemake: `snakemake` where that name finds
    the program the command line `argv` started (or `argv` is no such command line: the API),
    else the path that started it, written as `configfile_argument` writes paths:
    `.venv/bin/snakemake` after `make run`, whose venv is not on PATH, where a bare `snakemake`
    would not be found (or would be another installation). A run started as `python -m
    snakemake` gets `snakemake` where that name finds the one beside its interpreter
    (`python`, this one's by default), else `<that interpreter> -m snakemake`."""
    program = argv[0] if argv else ""
    cwd = os.path.abspath(cwd or os.getcwd())
    on_path = shutil.which("snakemake")
    if os.path.basename(program) == "__main__.py" and \
            os.path.basename(os.path.dirname(program)) == "snakemake":
        python = python or sys.executable
        # beside it, not resolved: a venv's interpreter is a link to the system's
        if on_path and os.path.dirname(os.path.abspath(on_path)) == \
                os.path.dirname(os.path.abspath(python)):
            return "snakemake"
        return f"{shlex.quote(_rerun_path(python, cwd, checkout))} -m snakemake"
    if os.path.basename(program) != "snakemake" or os.sep not in program:
        return "snakemake"
    started = os.path.join(invoked_in, os.path.expanduser(program))
    if on_path and os.path.realpath(on_path) == os.path.realpath(started):
        return "snakemake"
    return shlex.quote(_rerun_path(started, cwd, checkout))


def profile_argument(argv: list[str], invoked_in: str, cwd: str | None = None,
                     checkout: str | None = None) -> str:
    """`--workflow-profile profiles/slurm` (or `--profile ...`) as the `snakemake` command line
    `argv` gave it, for the rerun commands a run suggests: without it, a cell of a cluster run
    rerun from them would run where Snakemake runs. "" when `argv` is no `snakemake` command
    line (the API, a test) or names no profile. A profile folder given by a path found from
    `invoked_in` (where Snakemake was started) is written as `configfile_argument` writes
    config files; a name Snakemake looks up in its own folders is kept as given."""
    program = os.path.basename(argv[0]) if argv else ""
    if program != "snakemake" and not (argv and argv[0].endswith(
            os.path.join("snakemake", "__main__.py"))):  # `python -m snakemake`
        return ""
    given = []
    for i, word in enumerate(argv[1:], 1):
        for option in PROFILE_OPTIONS:
            if word == option and i + 1 < len(argv):
                given.append((option, argv[i + 1]))
            elif word.startswith(option + "="):
                given.append((option, word.split("=", 1)[1]))
    cwd = os.path.abspath(cwd or os.getcwd())
    words = []
    for option, value in given:
        if value == "none":  # Snakemake's word for no profile
            continue
        found = os.path.join(invoked_in, os.path.expanduser(value))
        if os.path.exists(found):
            value = _rerun_path(found, cwd, checkout)
        words.append(f"{option} {shlex.quote(value)}")
    return " ".join(words)


def _rerun_path(path, cwd: str, checkout: str | None) -> str:
    """`path` as a rerun command gives it: relative to the working directory `cwd` where it
    lies under it, absolute elsewhere or for a run outside the `checkout` (the command is typed
    in the checkout)."""
    elsewhere = checkout is not None and os.path.abspath(checkout) != cwd
    relative = os.path.relpath(path, cwd)
    absolute = elsewhere or relative.startswith("..")
    return os.path.normpath(os.path.join(cwd, path)) if absolute else relative


def config_argument(config_args) -> str:
    """`--config KEY=VALUE ...` as the run was given it (Snakemake's `config_settings.
    config_args`: the command line's words, or the API's settings written so), quoted for a
    shell, for the rerun commands a run suggests: without it, a cell rerun from them would be
    remade under the config files alone, other settings than the rest of the run's. It comes
    last in those commands, as `--config` takes every word up to the next option. Credentials
    in a URL among the values are left out (`***`), as in every log line."""
    words = [str(word) for word in config_args or ()]
    return "--config " + " ".join(shlex.quote(redact(w)) for w in words) if words else ""


def configfile_argument(paths, cwd: str | None = None, checkout: str | None = None) -> str:
    """`--configfile a.yaml b.yaml` for a run's config files, relative to the working
    directory where they lie under it (absolute elsewhere), quoted for a shell: part of every
    rerun command a run suggests, which without it would read the default config.

    A run in a directory of its own (`--directory runs/<name>`, not the `checkout` whose
    workflow it runs) gets `--directory <it>` first and absolute paths: the command is typed in
    the checkout, and without it would remake the run's files there."""
    cwd = os.path.abspath(cwd or os.getcwd())
    elsewhere = checkout is not None and os.path.abspath(checkout) != cwd
    files = [_rerun_path(path, cwd, checkout) for path in paths]
    directory = f"--directory {shlex.quote(cwd)} " if elsewhere else ""
    return (directory + "--configfile " + " ".join(shlex.quote(f) for f in files) if files
            else directory.strip())


def rerun_arguments(argv: list[str], invoked_in: str, configfiles, config_args,
                    cwd: str | None = None, checkout: str | None = None) -> str:
    """A run's arguments to repeat, as the workflow writes them into RERUN_CONFIG_VARIABLE for
    its jobs: the profile, --directory, --configfile and --config that its `snakemake` command
    line `argv` (typed in `invoked_in`) gave (`profile_argument`, `configfile_argument`,
    `config_argument`). It is shell text, each word quoted, so that `command_line` appends it as
    written and the command it prints splits (shlex.split, a shell) into the run's words, a path
    with spaces or quotes included; the aggregation's provenance.json records it so too."""
    return " ".join(filter(None, [
        profile_argument(argv, invoked_in, cwd=cwd, checkout=checkout),
        configfile_argument(configfiles, cwd=cwd, checkout=checkout),
        config_argument(config_args)]))


# The result folders named by model (results/<kind>/<model>/...): a file asked for by name in
# one of them whose model this run's config does not name is refused by `unconfigured_model`.
MODEL_RESULT_KINDS = ("pruned", "bench", "paired", "eval")


def unconfigured_model(path: str, model: str, models, configfiles) -> str:
    """Why `path`, a result of `model`, cannot be made under this run's config, which names
    `models` and was read from `configfiles`: most often a rerun command pasted without the
    --configfile of the run that made the file."""
    read_from = configfile_argument(configfiles) or "no --configfile"
    return (f"{path} is a result of model {model!r}, which this run's config ({read_from}) "
            f"does not name (it names {', '.join(map(repr, models)) or 'no model'}): give the "
            "--configfile of the run that made it (the tables' rerun commands and "
            "results/tables/provenance.json repeat it), e.g. "
            f"`{command_line(path, '--configfile', 'config/config.yaml', 'my.yaml')}`, or add "
            f"{model!r} to models")
