"""The commands' arguments read and checked before any weight is loaded: `--param k=v`,
`--tokens`, `--batch`, comma lists, choices, output paths, and whether the hub is needed and
reachable. Each problem is one PrunebenchError that names the option and the fix."""

from __future__ import annotations

import argparse
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError, did_you_mean


def parse_params(items: list[str] | None, option: str = "--param",
                 example: str = "protect_first=4") -> dict[str, Any]:
    """`--param k=v` pairs (or another option's): v is read as a bool (true/false), null, an
    int, a float, else kept as a string. A key may be dotted (`data.seed`, a nested setting)."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", key):
            raise PrunebenchError(f"{option} {item!r} must be key=value, e.g. {option} {example}")
        if key in params:
            raise PrunebenchError(f"{option} {key} is given twice: keep one")
        params[key] = _param_value(text.strip())
    return params


def _param_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_tokens(text: str) -> tuple[int, int]:
    """'12x128' -> (12, 128)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    several = [t.strip() for t in re.split(r"[,\s]+", text.strip()) if t.strip()]
    if not match and len(several) > 1:
        # `--tokens 12x128,12x64`, as the workflow's benchmark.token_configs lists them: one
        # benchmark file holds one token config (its batch sizes are the sweep, --batch)
        runs = " and ".join(f"--tokens {t}" for t in several)
        raise PrunebenchError(f"--tokens {text!r} gives {len(several)} token configs, and a "
                              f"benchmark takes one token config per command: run it once "
                              f"per config ({runs}), each with an --out of its own where you give one")
    if not match:
        raise PrunebenchError(f"malformed --tokens {text!r}: write <input>x<output> token "
                              "counts such as 12x128")
    lin, lout = int(match[1]), int(match[2])
    if lin < 1 or lout < 1:
        raise PrunebenchError(f"--tokens {text!r} generates nothing: input and output need at "
                              "least 1 token each, e.g. 12x128")
    return lin, lout


def parse_list(text: str | None, what: str,
               split: Callable[[str], list[str]] = lambda text: text.split(",")) -> list[str]:
    """A comma-separated option's entries (`split`: how it is cut, where an entry may hold a
    comma)."""
    items = [t.strip() for t in split(text or "")]
    if text is not None and not all(items):
        raise PrunebenchError(f"{what} {text!r} has an empty entry: separate its entries with "
                              "single commas")
    return [t for t in items if t]


def parse_token_configs(text: str) -> list[tuple[int, int]]:
    """'12x128,82x128' -> [(12, 128), (82, 128)]: several token configs in the order given (a
    benchmarks/ script's --tokens), each read and refused as parse_tokens reads one. Configs
    separated by spaces are refused here: parse_tokens would advise one command per config,
    which a list of them does not need."""
    items = parse_list(text, "--tokens")  # refuses an empty one ('' included)
    if any(len(item.split()) > 1 for item in items):
        listed = ",".join(word for item in items for word in item.split())
        raise PrunebenchError(f"--tokens {text!r}: separate its token configs with commas, "
                              f"e.g. --tokens {listed}")
    return [parse_tokens(item) for item in items]


def parse_batches(text: str, option: str = "--batch") -> list[int]:
    """'1,8,64' -> [1, 8, 64] (`option`: the name the command gives them, e.g. a benchmarks/
    script's --batch-sizes)."""
    try:
        batches = [int(b) for b in parse_list(text, option)]
    except ValueError:
        batches = []
    if not batches or any(b < 1 for b in batches):
        raise PrunebenchError(f"{option} {text!r} must list positive batch sizes, e.g. 1,8,64")
    if len(set(batches)) != len(batches):
        raise PrunebenchError(f"{option} {text!r} lists a batch size twice: keep one")
    return sorted(batches)


def parse_limit(text: str) -> int | float:
    """lm-eval's limit: a whole number of documents, or a fraction below 1 (argparse's type)."""
    value = _number(text)
    if not value > 0 or (value >= 1 and not value.is_integer()) or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of documents per task "
                                         "(e.g. 50) or a fraction of them below 1 (e.g. 0.1)")
    return int(value) if value >= 1 else value


def _non_empty(fix: str):
    """An argparse type for a name that must not be empty: an unset shell variable (`--out
    "$DIR"`) would otherwise stand for the current folder."""
    def named(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{text!r} is empty: {fix}")
        return text
    return named


model_name = _non_empty("give a checkpoint folder or hf:<org>/<repo>@<revision>")  # MODEL
out_path = _non_empty("name the folder (or file) to write")  # --out


def positive_int(text: str) -> int:
    """A count of at least 1 (argparse's type)."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """A count of at least 0 (argparse's type)."""
    return _whole_number(text, 0)


def at_least(least: int):
    """An argparse type: a whole number of at least `least` (token counts need 2)."""
    def whole_number(text: str) -> int:
        return _whole_number(text, least)
    return whole_number


def positive_float(text: str) -> float:
    """A finite number above 0 (argparse's type): seconds, a learning rate."""
    value = _number(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number above 0")
    return value


def time_budget(text: str) -> float:
    """A benchmarks/ script's --budget-s (argparse's type): seconds of at least 0, `inf` for
    none. 0 is a budget that every timed cell overruns, each recorded as skipped (what a script
    checks before its cells still runs); a negative or NaN one would say nothing of a typo."""
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds of at least 0, or "
                                         "inf for no budget")
    return value


def seconds_cap(text: str) -> float:
    """A time limit above 0 in seconds, `inf` for none (argparse's type)."""
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0, or inf "
                                         "for no limit")
    return value


def share(text: str) -> float:
    """A share strictly between 0 and 1 (argparse's type), such as a CI target of 5%: 0.05."""
    value = _number(text)
    if not 0 < value < 1:
        example = f"{value / 100:g} for {value:g}%" if 1 <= value < 100 else "0.05 for 5%"
        raise argparse.ArgumentTypeError(f"{text!r}: give a share of the mean between 0 and 1, "
                                         f"e.g. {example}")
    return value


def _number(text: str) -> float:
    """`text` as a float; NaN (which every range check refuses) when it is not a number."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of at least {least}")
    return value


DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def device_spec(text: str) -> str:
    """--device: auto, cpu, cuda or cuda:N (argparse's type), checked before torch loads."""
    if not DEVICE_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}: use auto (CUDA when "
                                         "present), cpu, cuda or cuda:N")
    return text


def choice(value: str, choices: tuple[str, ...], option: str) -> str:
    if value not in choices:
        raise PrunebenchError(f"unknown {option} {value!r}{did_you_mean(value, choices)}: "
                              f"choose one of {list(choices)}")
    return value


# What an output folder of `prunebench prune`, `recover` or `eval` holds: --force replaces
# only such a folder, never one of the user's own files.
OUTPUT_MARKERS = ("prune_report.json", "ppl.json", "zeroshot.json", "lm_eval.json")
WRITTEN_BY = {"prune_report.json": "prune or recover", "ppl.json": "eval",
              "zeroshot.json": "eval", "lm_eval.json": "eval"}
# Everything prune, recover or eval puts in an --out folder: --force replaces the folder whole,
# so it refuses one holding anything else (a user's notes, plots).
OUTPUT_ENTRIES = frozenset({"checkpoint", *OUTPUT_MARKERS})


# The output locks this process holds (claim_out), by output path, released when its command
# ends (release_out_locks).
_OUT_LOCKS: dict[str, int] = {}


def claim_out(out: Path) -> None:
    """Hold a lock on `out` until the command ends (release_out_locks): a second command writing
    the same output at once on this machine is refused rather than raced (each would delete the
    other's temporary, and the last to finish would replace the other's result without
    --force). The lock files live in a private folder of the user's in the temporary folder,
    never beside the output (jobs on other machines of a cluster do not see them)."""
    import fcntl
    import hashlib

    from prunebench.atomic import lock_holder, sign_lock

    key = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:32]
    if key in _OUT_LOCKS:  # claimed already by this command
        return
    lock = _private_lock_folder() / f"{key}.lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as err:  # a link planted while the folder was open to others
        raise PrunebenchError(f"the lock file {lock} is not a plain file ({err.strerror}): "
                              "remove it") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        sign_lock(fd)
    except BlockingIOError:
        holder = lock_holder(fd)
        os.close(fd)
        raise PrunebenchError(f"--out {out} is being written by another prunebench command "
                              f"(pid {holder}): wait for it to end, or choose another --out") from None
    except BaseException:
        os.close(fd)
        raise
    _OUT_LOCKS[key] = fd


def _private_lock_folder() -> Path:
    """<temporary folder>/prunebench-outputs-<uid>, made private; refused when it is not the
    user's own private folder (another user could otherwise point its lock files at the user's
    files, which claim_out writes its pid into)."""
    import stat

    folder = Path(tempfile.gettempdir()) / f"prunebench-outputs-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise PrunebenchError(f"{folder} is not a folder of yours (another user's, or a link): "
                              "remove it, or set TMPDIR to a folder of your own")
    if st.st_mode & 0o077:  # made open by an earlier version
        os.chmod(folder, 0o700)
    return folder


def release_out_locks() -> None:
    while _OUT_LOCKS:
        os.close(_OUT_LOCKS.popitem()[1])  # closing releases the lock


def check_out_dir(out: Path, force: bool, model_dir: Path | None = None,
                  writes: tuple[str, ...] = ()) -> None:
    """An output folder is new, empty, or an earlier output replaced only with --force (and only
    once the new one is complete: atomic_dir). `writes`: the OUTPUT_MARKERS this command
    writes; --force refuses a folder holding others (another command's output, or results of an
    earlier eval this one does not recompute), which the replaced folder would take along.
    With `model_dir` (the last check before the work) the output is claimed first (claim_out),
    so what is found here stays so until the command ends."""
    if model_dir is not None:
        claim_out(out)
    _check_out_path(out, model_dir)
    if out.exists() and not out.is_dir():
        raise PrunebenchError(f"--out {out} is a file, not a folder: choose a folder path")
    if model_dir is not None and out.resolve() in (model_dir.resolve(), *model_dir.resolve().parents):
        raise PrunebenchError(f"--out {out} holds the model {model_dir} itself: choose a folder "
                              "outside it")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise PrunebenchError(f"--out {out} exists and is not empty: choose another folder, "
                                  "or add --force to replace it (the old one goes only once the "
                                  "new one is complete)")
        # Said once the model is known (its own folder gets the message above instead).
        found = [name for name in OUTPUT_MARKERS if (out / name).is_file()]
        if model_dir is not None and not found:
            raise PrunebenchError(
                f"--out {out} holds files no prunebench command wrote (none of "
                f"{', '.join(OUTPUT_MARKERS)}): --force replaces only an earlier output of "
                "prune, recover or eval; choose another folder")
        foreign = sorted(entry.name + ("/" if entry.is_dir() else "") for entry in out.iterdir()
                         if entry.name not in OUTPUT_ENTRIES)
        if found and foreign:
            raise PrunebenchError(
                f"--out {out} also holds {', '.join(foreign[:5])}"
                f"{f' and {len(foreign) - 5} more' if len(foreign) > 5 else ''}, which no "
                "prunebench command wrote there: --force would delete them with the folder it "
                "replaces; move them out, or choose another folder")
        lost = [name for name in found if writes and name not in writes]
        if lost:
            raise PrunebenchError(
                f"--out {out} holds {', '.join(lost)} (written by prunebench "
                f"{WRITTEN_BY[lost[0]]}), which this command does not write: --force would "
                "delete it with the folder it replaces; choose another folder")


def check_out_file(out: Path, force: bool, model_dir: Path | None = None) -> None:
    """A benchmark's JSON: a new file, or with --force an earlier benchmark's, never inside a
    prune or recover output (whose report it would sit beside, or replace). Claimed as
    check_out_dir claims a folder."""
    if model_dir is not None:
        claim_out(out)
    _check_out_path(out, model_dir)
    if out.is_dir():
        raise PrunebenchError(f"--out {out} is a folder: give the JSON file's path")
    holder = next((folder for folder in out.absolute().parents
                   if (folder / "prune_report.json").is_file()), None)
    if holder is not None:
        raise PrunebenchError(f"--out {out} is inside {holder}, an output of prunebench prune or "
                              "recover: choose a path outside it")
    if out.exists() and not force:
        raise PrunebenchError(f"--out {out} exists: choose another file, or add --force to "
                              "replace it")
    # Said once the model is known (a path inside its folder gets that message instead).
    if model_dir is not None and out.exists() and not _is_bench_file(out):
        raise PrunebenchError(f"--out {out} is no benchmark JSON of prunebench bench: --force "
                              "replaces only an earlier benchmark's file; choose another file")


def _is_bench_file(path: Path) -> bool:
    from prunebench.atomic import read_json_or_none

    record = read_json_or_none(path)
    return isinstance(record, dict) and "rows" in record and "provenance" in record


def _check_out_path(out: Path, model_dir: Path | None) -> None:
    """An output path that can be made and written, and touches no model: refused before any
    work (an evaluation found it could not write only after hours of scoring)."""
    if out.is_symlink():  # the output would replace the link, not go where it points
        raise PrunebenchError(f"--out {out} is a symbolic link (to {os.readlink(out)}): give the "
                              "path it points to, or another path")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise PrunebenchError(f"--out {out}: {parent} is a file, not a folder: choose "
                                  "another path")
    if model_dir is not None and model_dir.resolve() in out.resolve().parents:
        raise PrunebenchError(f"--out {out} is inside the model folder {model_dir}: choose a "
                              "path outside it (the model's files are checked against their "
                              "recorded sha256)")
    existing = next(folder for folder in (out.absolute(), *out.absolute().parents)
                    if folder.exists())
    if existing == out.absolute():
        existing = existing.parent  # the output is written beside itself, then renamed
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".prunebench-write-check-"):
            pass
    except OSError as err:
        raise PrunebenchError(f"--out {out}: cannot write in {existing} ({err.strerror or err}): "
                              "choose a folder you can write to") from None


def require_hub(what: str, offline_way: str = "") -> None:
    """Stop at once, with the fix, when `what` needs the hub and it is unreachable (instead of
    datasets' retries); with HF_DATASETS_OFFLINE set the caches answer and nothing is tried.
    `offline_way`: the command's own way to do without the hub, said first."""
    # Looked up on prunebench.cli at each call: `plan` shares the check, and tests replace it
    # there to play an offline machine.
    from prunebench.cli import hub_reachable

    if any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
           for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")):
        return
    if not hub_reachable():
        raise PrunebenchError(
            f"{what} needs a hub dataset, and the Hugging Face hub is unreachable from here: "
            f"{offline_way + '; or ' if offline_way else ''}run where it is reachable, or load "
            "the dataset once there with `datasets` and set HF_DATASETS_OFFLINE=1 here (with "
            "HF_DATASETS_CACHE pointing at a copy of that cache); the embedded text and the "
            "pb_* tasks need no network")
