"""MODEL as the commands take it: a checkpoint directory (config.json, safetensors weights,
tokenizer; also written `local:<folder>`, as in a workflow config), a `prunebench prune` output
folder (its `checkpoint/` is used, and its prune report names the variant), or
`hf:<org>/<repo>@<revision>`, downloaded once into the cache folder. A multimodal checkpoint
directory (Gemma-3 4B-27B, Mistral-Small 3.x) is imported once into the cache folder as its
language model (checkpoint.text_part), and so is a directory a download or an import converts
(checkpoint.moe_fuse: per-expert, MXFP4 or FP8 weights, Hunyuan-A13B's and DBRX's published
config.json), which prunebench's loader does not read as it is."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prunebench import PrunebenchError
from prunebench.atomic import exclusive_lock, read_json
from prunebench.plan import layout

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """Where `hf:` models are downloaded: $PRUNEBENCH_CACHE_DIR/models, else
    ~/.cache/prunebench/models (beside the checkpoint verification memos)."""
    root = os.environ.get("PRUNEBENCH_CACHE_DIR") or Path.home() / ".cache" / "prunebench"
    return Path(root) / "models"


def progress_dir(variable: str, name: str) -> Path:
    """Where a command keeps what a long computation has done so far, so that the same command
    rerun after an interruption does only the rest: $<variable> (the workflow's jobs get it),
    else `name` in prunebench's cache folder ($PRUNEBENCH_CACHE_DIR, else ~/.cache/prunebench,
    whatever --cache-dir says)."""
    chosen = os.environ.get(variable)
    return Path(chosen) if chosen else default_cache_dir().parent / name


@dataclass(frozen=True)
class Checkpoint:
    path: Path            # the folder with config.json, weights and tokenizer
    name: str             # the model name written into result files
    variant: str          # "dense", or the variant its prune report names
    source: str           # MODEL as given on the command line
    report: dict | None   # the prune report beside it, when there is one


def resolve_model(spec: str, cache_dir: str | Path | None = None,
                  trust_remote_code: bool = False) -> Checkpoint:
    """MODEL as given -> the checkpoint folder, its name and variant (module docstring).
    `trust_remote_code` (--trust-remote-code): a hub download fetches the repository's code
    files too, which a tokenizer of its own runs. A model of a family this transformers is too
    old to build (`Family.min_transformers`) is refused here, before torch loads (and before
    a download where the hub id names a known shape): every command that takes MODEL builds
    it."""
    ckpt = _resolved(spec, cache_dir, trust_remote_code)
    _check_transformers_release(_folder_type(ckpt.path))
    return ckpt


def _named_type(repo: str) -> str | None:
    """The model_type of the known shape a hub id names (phi-4's), else None."""
    from prunebench.checkpoint.architectures import architecture_values, known_shape_of

    shape = known_shape_of(repo)
    return architecture_values(shape).get("model_type") if shape else None


def _folder_type(folder: Path) -> str | None:
    """The model_type of a checkpoint folder's config.json as prunebench reads it (None where
    it cannot be read: the loader says why)."""
    from prunebench.checkpoint.param_count import checked_config_json

    try:
        return checked_config_json(folder, text_part=True).get("model_type")
    except PrunebenchError:
        return None


def _check_transformers_release(model_type: str | None) -> None:
    from prunebench.checkpoint.param_count import require_transformers_release

    require_transformers_release(model_type)


def _resolved(spec: str, cache_dir: str | Path | None,
              trust_remote_code: bool) -> Checkpoint:
    # `local:<folder>`, as a workflow config names a folder, is that folder.
    path = Path(spec.removeprefix("local:") if spec.startswith("local:") else spec).expanduser()
    if path.exists() or not spec.startswith("hf:"):
        if why := _to_import(path):
            folder = folder_import(path, Path(cache_dir) if cache_dir else default_cache_dir(),
                                   why, trust_remote_code)
            return Checkpoint(folder, path.resolve().name, "dense", spec, None)
        return _local_checkpoint(path, spec)
    from prunebench.hub import parse_source

    parsed = parse_source(spec)  # a malformed hf: source stops here, before any download
    _check_transformers_release(_named_type(parsed.name))  # a known shape's: before it
    folder = hub_checkpoint(spec, Path(cache_dir) if cache_dir else default_cache_dir(),
                            trust_remote_code)
    return Checkpoint(folder, parsed.name.rsplit("/", 1)[-1], "dense", spec, None)


def _local_checkpoint(path: Path, spec: str) -> Checkpoint:
    if not path.exists() and (spec == "tiny" or spec.startswith("random:")):
        raise PrunebenchError(
            f"MODEL {spec!r}: a workflow config's source, which its model rule builds into "
            "resources/models/<name>; here give such a folder (`snakemake --cores all "
            "resources/models/<name>` first), another checkpoint directory, or "
            "hf:<org>/<repo>@<revision>")
    if path.is_file():
        holder = (f" ({path.parent} holds a config.json)"
                  if (path.parent / "config.json").is_file() else "")
        raise PrunebenchError(
            f"{spec} is a file, not a checkpoint folder: give the folder holding config.json, "
            f"the safetensors weights and the tokenizer{holder}")
    if not path.exists():
        # resources/models/<name>: the workflow's model folder, made by its model rules. Of a
        # run in another directory (runs/x/resources/models/tiny): Snakemake reads a target in
        # the run's directory, which the command gives it.
        workflow_model = path.parent.name == "models" and path.parent.parent.name == "resources"
        run = path.parent.parent.parent
        build = layout.model_build_command(
            path.name, None if run.resolve() == Path.cwd().resolve() else run)
        made_by = (f" ({path} is made by the workflow: `{build}` first)"
                   if workflow_model else "")
        raise PrunebenchError(
            f"no model at {spec}{made_by}: give a checkpoint directory (config.json, safetensors "
            "weights, tokenizer), a `prunebench prune` output folder, or "
            "hf:<org>/<repo>@<revision>")
    if (path / "config.json").is_file():
        folder = path
        resolved = path.resolve()  # `.` or a link: the name of the folder it is
        report_file = (resolved.parent / "prune_report.json" if resolved.name == "checkpoint"
                       else None)
    elif (path / "checkpoint" / "config.json").is_file():  # a `prunebench prune` --out folder
        folder, report_file = path / "checkpoint", path / "prune_report.json"
    else:
        raise PrunebenchError(
            f"{spec} holds no model: config.json is missing (neither in it nor in its "
            "checkpoint/ folder); give a checkpoint directory or hf:<org>/<repo>@<revision>")
    report = None
    if report_file is not None and report_file.is_file():
        try:
            report = read_json(report_file)
        except ValueError as err:
            raise PrunebenchError(f"{report_file} is not valid JSON ({err}): prune again, or "
                                  "give the checkpoint folder of another run") from None
    if report:
        return Checkpoint(folder, str(report.get("model") or folder.resolve().parent.name),
                          str(report.get("variant") or "dense"), spec, report)
    return Checkpoint(folder, folder.resolve().name, "dense", spec, None)


def hub_checkpoint(source: str, cache_dir: Path, trust_remote_code: bool = False) -> Path:
    """A hub model downloaded once into cache_dir/<org>--<repo>@<revision> (the workflow's
    `model` rule's way: a staging folder a rerun resumes, renamed once complete), with its code
    files where `trust_remote_code` is on."""
    from prunebench.hub import HubUnreachable, download, parse_source
    from prunebench.checkpoint.integrity import remember_verified
    from prunebench.modeling import MANIFEST, write_manifest

    parsed = parse_source(source)
    if cache_dir.exists() and not cache_dir.is_dir():
        raise PrunebenchError(f"--cache-dir {cache_dir} is a file: give the folder hub models "
                              "are downloaded into")
    # One folder per repository and revision ('refs/pr/3' included: no '/' in the name).
    folder = f"{parsed.name}@{parsed.revision or 'main'}".replace("/", "--")
    out = cache_dir / folder

    def fetch() -> None:
        if out.exists():
            raise PrunebenchError(
                f"{out} exists but holds no finished download (no {MANIFEST}): delete it and "
                "rerun, and the model is downloaded again")
        if parsed.revision is None:
            log.warning("%s is kept in %s: delete that folder to fetch a newer 'main'", source,
                        out)
        staging = out.parent / f".{out.name}.download"
        try:
            # token from HF_TOKEN, never printed
            download(parsed.name, parsed.revision, staging, trust_remote_code)
        except HubUnreachable:
            raise PrunebenchError(
                f"cannot reach the Hugging Face hub to download {parsed.name}: run the command "
                f"once where the hub is reachable (it keeps the download in {out}, which later "
                "runs use without the network), copy that folder here from such a machine "
                "(--cache-dir points at another cache), or give the model as a local folder "
                "(local:<folder>)") from None
        hashed = write_manifest(staging, {"source": source})
        os.replace(staging, out)
        remember_verified(out, hashed)

    return made_once(out, f"downloading {source}", fetch)


def made_once(out: Path, doing: str, make: Callable[[], None]) -> Path:
    """`out`, made by `make` unless a finished one (with its manifest) is there. Two commands
    asking for it at once share the work: the second waits for the first, then finds it
    finished."""
    from prunebench.checkpoint.integrity import MANIFEST

    if not (out / MANIFEST).is_file():
        with exclusive_lock(out.parent / f".{out.name}.lock",
                            f"another prunebench command is {doing} into {out}: waiting for "
                            "it to finish"):
            if not (out / MANIFEST).is_file():
                make()
                return out
    log.info("using %s (made by an earlier command)", out)
    return out


def _to_import(path: Path) -> str | None:
    """Why a command imports the checkpoint folder `path` rather than reading it as it is (for
    the log), None where it reads it: a multimodal checkpoint whose language model prunebench
    keeps (checkpoint.text_part: Gemma-3 4B-27B, Mistral-Small 3.x), or one a download or an
    import converts (checkpoint.moe_fuse), which the loader and checked_config_json refuse as
    it is, sending the user to a command given the folder."""
    from prunebench.atomic import read_json_or_none
    from prunebench.checkpoint.moe_fuse import needs_fusion
    from prunebench.checkpoint.param_count import as_written
    from prunebench.checkpoint.text_part import taken_apart

    if not path.is_dir():
        return None
    raw = read_json_or_none(path / "config.json")
    if taken_apart(raw) is not None:
        return "is multimodal: importing its language model"
    if needs_fusion(path) or as_written(raw) != raw:
        return "is converted once for prunebench's loader (checkpoint.moe_fuse): importing it"
    return None


def folder_import(path: Path, cache_dir: Path, why: str, trust_remote_code: bool = False) -> Path:
    """The checkpoint in `path` (`_to_import` says `why`: its language model, or its converted
    weights and config.json), imported once (as a workflow's `local:` source is: copied,
    taken out or converted, manifest written; the folder is only read) into
    cache_dir/local--<folder>@<digest of its files' names, sizes and times>, so a folder
    whose files change is imported anew; with `trust_remote_code` and code files in the folder,
    `+code` after it (those come too: an import made without them is not reused)."""
    import hashlib
    import json

    from prunebench.checkpoint.local_import import code_files, folder_state, import_local

    state = json.dumps(folder_state(path.resolve()), sort_keys=True).encode()
    with_code = trust_remote_code and bool(code_files(path.resolve()))
    out = cache_dir / (f"local--{path.resolve().name}@{hashlib.sha256(state).hexdigest()[:12]}"
                       + ("+code" if with_code else ""))

    def imported() -> None:
        log.info("%s %s into %s (once)", path, why, out)
        import_local(f"local:{path.resolve()}", out, where=f"MODEL {path}",
                     trust_remote_code=trust_remote_code)

    return made_once(out, f"importing {path}", imported)


def params_of(ckpt: Checkpoint) -> int:
    """The checkpoint's parameter count as the workflow records it: the prune report's
    params_after, else the count from its config (a dense model)."""
    if ckpt.report and ckpt.report.get("params_after"):
        return int(ckpt.report["params_after"])
    from prunebench.modeling import count_params, load_config

    return count_params(load_config(ckpt.path))
