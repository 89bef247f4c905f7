"""Model sources: `hf:<repo>@<revision>` (Hugging Face hub), `tiny` (built here), `random:<arch>`,
`local:<path>` (a folder on disk, imported by checkpoint.local_import).

Hub downloads take the access token from the environment (`HF_TOKEN`) and never log it; every
failure mode a user can fix (offline, gated, wrong id or revision, no safetensors) stops with a
message saying what to do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from prunebench import PrunebenchError, ResourceError
from prunebench.atomic import is_disk_full

log = logging.getLogger(__name__)

# Only what a safetensors checkpoint needs; pickle weights only for a repository without
# safetensors, and then converted once through torch's weights-only loader (pickle_convert).
# A chat template saved by transformers >= 4.5x lives in chat_template.jinja alone (a `local:`
# import keeps it too: checkpoint.local_import).
ALLOW_PATTERNS = ["*.json", "*.safetensors", "tokenizer.model", "*.txt", "*.tiktoken",
                  "chat_template.jinja"]
# Only the repository's top-level files are the checkpoint (a folder is loaded from its own), but
# huggingface_hub matches the patterns against each file's path in the repository with
# fnmatch, whose `*` matches '/' too: `*.safetensors` would also fetch `original/`, `onnx/` or
# another precision's subfolder, a second copy of the weights (tens of GB). `*/*` matches every
# path with a folder in it, and nothing at the top.
SUBFOLDERS = "*/*"
# Mistral's repositories ship their weights twice: transformers' shards and, beside them, one
# `consolidated.safetensors` in mistral-inference's layout (other tensor names), which no
# transformers class loads: 14 GB more to download for Mistral-7B, never read.
IGNORE_PATTERNS = ["consolidated*.safetensors", SUBFOLDERS]
PICKLE_PATTERNS = ["pytorch_model*.bin", "pytorch_model.bin.index.json"]
# The code a repository ships for its own classes (a tokenizer's, named by the `auto_map` of
# tokenizer_config.json): fetched only where `trust_remote_code` lets a tokenizer run it, since
# transformers loads it from the checkpoint's folder and the hub is not asked again.
REMOTE_CODE_PATTERNS = ["*.py"]


def download_patterns(trust_remote_code: bool) -> list[str]:
    """The allow_patterns of a download: ALLOW_PATTERNS, and the repository's top-level code
    files where `trust_remote_code` is on."""
    return [*ALLOW_PATTERNS, *(REMOTE_CODE_PATTERNS if trust_remote_code else [])]


def trust_remote_code_of_run() -> bool:
    """The workflow's `trust_remote_code`, as its jobs get it: workflow/rules/common.smk puts
    it in the environment (layout.TRUST_REMOTE_CODE_VARIABLE) rather than in a parameter of the
    model rule, so that no finished download reruns for it. Off where it is not set."""
    from prunebench.plan.layout import TRUST_REMOTE_CODE_VARIABLE

    return os.environ.get(TRUST_REMOTE_CODE_VARIABLE, "").strip().upper() in _TRUE


# A hub repository id: `<repo>` or `<org>/<repo>`, each of letters, digits, '-', '_' and '.'.
_REPO_ID = re.compile(r"\w[\w.-]*(/\w[\w.-]*)?")
_SOURCE = re.compile(r"^(?P<kind>hf|random|tiny)(?::(?P<name>[^@]+)(?:@(?P<revision>.+))?)?$")
# What no revision can hold: the hub takes a commit (hex), a branch or a tag, and git refuses
# these in a branch or tag name (git check-ref-format: a space or control character, ~ ^ : ? *
# [ \, '..', '@{', '//', a part that starts with '.' or ends in '.lock', '/' or '.' at the end,
# '@' alone). Angle brackets git would take, but a revision holding them is the docs'
# placeholder copied as it is (`@<commit>`), which would pass the checks and fail at download.
_NO_REVISION = re.compile(
    r"[\x00-\x20\x7f~^:?*\[\\<>]|\.\.|@\{|//|^[/.]|/\.|\.lock(/|$)|[/.]$|^@$")


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "hf", "random", "tiny" or "local"
    name: str | None = None  # hub repo id, architecture name for random, folder for local
    revision: str | None = None


def parse_source(source: str) -> ModelSource:
    if source.startswith("local:") and source.removeprefix("local:").strip():
        return ModelSource("local", source.removeprefix("local:"))  # a path may hold '@' or ':'
    match = _SOURCE.match(source.strip())
    if not match or (match["kind"] in ("hf", "random") and not match["name"]):
        raise PrunebenchError(
            f"malformed model source {source!r}: use 'tiny', 'hf:<org>/<repo>@<revision>', "
            "'random:<architecture>' (e.g. 'random:llama-7b') or 'local:<folder>'")
    if match["kind"] == "tiny" and match["name"]:
        raise PrunebenchError(f"model source {source!r}: 'tiny' takes no name")
    if match["kind"] == "hf" and not _REPO_ID.fullmatch(match["name"]):
        raise PrunebenchError(f"model source {source!r}: {match['name']!r} is not a hub "
                              "repository id; write 'hf:<org>/<repo>@<revision>', e.g. "
                              "'hf:huggyllama/llama-7b@<commit>'")
    if match["kind"] == "hf" and match["revision"] and _NO_REVISION.search(match["revision"]):
        raise PrunebenchError(
            f"model source {source!r}: {match['revision']!r} after '@' is no commit, branch or "
            "tag (a placeholder copied from the docs?): put in its place the commit the model "
            f"was measured at (its 40 hex digits), or drop '@{match['revision']}' to download "
            "the newest commit (which check-config notes)")
    return ModelSource(match["kind"], match["name"], match["revision"])


def hub_token() -> str | None:
    """HF_TOKEN from the environment, without the line end or spaces around it that a secret
    file or an env file often leaves (huggingface_hub strips them when it reads the variable
    itself; a token passed on is sent as it is, and an HTTP header with a line end fails as if
    the hub were unreachable). Whitespace inside is refused: no token has any."""
    token = (os.environ.get("HF_TOKEN") or "").strip()
    if any(c.isspace() or not c.isprintable() for c in token):
        raise PrunebenchError("HF_TOKEN holds a space or a control character inside it: export "
                              "the token alone, e.g. export HF_TOKEN=hf_...")
    return token or None


def hub_auth() -> str | bool:
    """What prunebench's own hub calls pass as `token`: HF_TOKEN, or False, so that no token
    saved on the machine (`hf auth login`) is sent: tokens come from the environment only."""
    return hub_token() or False


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub answers a TCP connection: one quick check instead of huggingface_hub's
    retries (about 30 s on an offline machine), `timeout` seconds at most for the name lookup
    and as many for the connection. Behind a proxy, or with HF_HUB_OFFLINE set, no connection
    is tried."""
    import socket
    import threading
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # only the proxy knows; let huggingface_hub try
    parsed = urlparse(constants.ENDPOINT)
    host, port = parsed.hostname or "huggingface.co", parsed.port or 443
    # The name lookup in a thread of its own: a socket timeout does not bound it, and a broken
    # resolver can take tens of seconds (a daemon thread never holds the process at its end).
    found: list = []

    def resolve() -> None:
        with contextlib.suppress(OSError):
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))

    lookup = threading.Thread(target=resolve, daemon=True)
    lookup.start()
    lookup.join(timeout)
    for family, kind, proto, _, address in list(found)[:2]:
        try:
            with socket.socket(family, kind, proto) as connection:
                connection.settimeout(timeout)
                connection.connect(address)
            return True
        except OSError:
            continue
    return False


# Exception modules of the HTTP stacks huggingface_hub has used across versions (requests up to
# 0.x, httpx in 1.x, httpx2 later): their transport errors are not always OSErrors.
_NETWORK_MODULES = {"requests", "urllib3", "httpx", "httpx2", "httpcore"}


def _is_network_error(err: BaseException) -> bool:
    if isinstance(err, (ConnectionError, TimeoutError)):
        return True
    return type(err).__module__.split(".")[0] in _NETWORK_MODULES


def load_error(err: BaseException) -> type[PrunebenchError]:
    """The error to raise for a failed hub load (datasets wrap the transport's error in their
    own): ResourceError when the network failed anywhere in its chain of causes, which a
    retry may get past, else PrunebenchError."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if _is_network_error(err):
            return ResourceError
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return PrunebenchError


class HubUnreachable(ResourceError):
    """The hub could not be reached for a download; the message says how the workflow gets
    the model elsewhere (a command reading its own cache words its own fix)."""


# How a run's hub files are fetched beforehand where the hub is reachable (a login node: the
# memory a download may take there), as the offline messages give it.
PREFETCH_COMMAND = ("`snakemake prefetch --resources mem_mb=32000 --configfile <config>`, with "
                    "the run's --directory where it has one")


def _offline_message(repo_id: str) -> str:
    return (f"cannot reach the Hugging Face hub to download {repo_id}: this machine is offline "
            f"or the hub is unreachable. Pre-fetch the models on a machine with network "
            f"({PREFETCH_COMMAND}: docs/hub.md, \"Compute nodes without network\"), or copy its "
            "resources/models/<name>/ folder, prunebench.json included, from a machine that "
            "pre-fetched it; a rerun resumes a broken-off download")


def apply_hf_env(env: dict[str, str]) -> None:
    """Point the datasets / hub caches (and offline switches) at `env`, cache paths made
    absolute. Call it before datasets or huggingface_hub are imported: they read these once."""
    os.environ.update({k: str(Path(v).resolve()) if k.endswith("_CACHE") else v
                       for k, v in env.items()})


# Which repository and revision a download folder is being filled from: a rerun resumes only a
# download of the same source; once verified, also the commit the hub served (record_commit),
# which the manifest records as `hub_commit`. Hidden, so no manifest lists it as a file.
DOWNLOAD_SOURCE = ".prunebench-download.json"


def claim_download_folder(out_dir: Path, repo_id: str, revision: str | None) -> None:
    """Make `out_dir` a download folder of `repo_id@revision`.

    A folder left by a broken-off download of another source (the config's `source` or its
    revision changed since) is emptied: resuming into it would keep that source's shards, and
    a leftover shard loads over the new model's tensors of the same names. A non-empty folder
    without the record is not ours to empty: refused, naming it.
    """
    import shutil

    from prunebench.atomic import write_json

    wanted = {"repo_id": repo_id, "revision": revision}
    record = out_dir / DOWNLOAD_SOURCE
    discarded = out_dir.with_name(f"{out_dir.name}.discarded")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not record.is_file():
            raise PrunebenchError(
                f"{out_dir} holds files but no record of the download they belong to: delete "
                "the folder and rerun to download the model afresh")
        try:
            found = json.loads(record.read_text())
        except (OSError, ValueError):
            found = None
        # the source only: a verified download adds the commit it got (record_commit)
        if isinstance(found, dict) and {k: found.get(k) for k in wanted} == wanted:
            log.info("resuming the download of %s@%s in %s", repo_id, revision or "main", out_dir)
            return
        log.warning("%s holds a broken-off download of another source (%s): emptied, to "
                    "download %s@%s afresh", out_dir, found, repo_id, revision or "main")
        # Renamed aside, then deleted: a kill while deleting leaves no half-emptied folder
        # without its record (which the next run would refuse to touch).
        os.replace(out_dir, discarded)
    shutil.rmtree(discarded, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(record, wanted)


def download(repo_id: str, revision: str | None, out_dir: str | Path,
             trust_remote_code: bool | None = None) -> Path:
    """Download a hub checkpoint's safetensors, config and tokenizer files into out_dir, and,
    with `trust_remote_code`, its code files (`*.py`), which a tokenizer of its own needs
    (None: the workflow's setting, trust_remote_code_of_run). Top-level files only.

    Resumable: huggingface_hub keeps partial files in out_dir and skips completed ones on a
    rerun of the same repository and revision (`claim_download_folder`). Verified: every
    safetensors file's sha256 is checked against the hub's record. A multimodal checkpoint
    whose language model is of a supported family (Gemma-3 4B-27B, Mistral-Small 3.x) is
    then turned into that language model's text-only checkpoint (checkpoint.text_part; a
    rerun brings back the files it had changed, and it starts again).
    """
    from prunebench.checkpoint import moe_fuse
    from prunebench.checkpoint.text_part import finished, take_text_part

    out_dir = Path(out_dir)
    claim_download_folder(out_dir, repo_id, revision)
    if moe_fuse.finished(out_dir):
        # Likewise a run killed after a mixture of experts' per-expert weights were fused:
        # fetching would bring the per-expert originals again.
        log.info("%s: the download in %s was finished and its experts fused: not downloaded "
                 "again", repo_id, out_dir)
        moe_fuse.fuse_experts(out_dir)  # deletes originals a killed run left
        return out_dir
    if finished(out_dir):
        # A run killed after the language model was taken out (while the manifest was being
        # hashed, or the originals deleted): its files are the verified download's; fetching
        # would bring the whole multimodal checkpoint again. Originals left are deleted now.
        log.info("%s: the download in %s was finished and its language model kept: not "
                 "downloaded again", repo_id, out_dir)
        take_text_part(out_dir)
        return out_dir
    if trust_remote_code is None:
        trust_remote_code = trust_remote_code_of_run()
    try:
        path = _fetch(repo_id, revision, out_dir, download_patterns(trust_remote_code))
    except BaseException:
        # Nothing arrived (refused, offline): no folder is left behind, as before the claim.
        if [p.name for p in out_dir.iterdir()] == [DOWNLOAD_SOURCE]:
            (out_dir / DOWNLOAD_SOURCE).unlink()
            out_dir.rmdir()
        raise
    take_text_part(path)
    # Per-expert weights (published Mixtral, Qwen3-MoE, OLMoE, Qwen2-MoE) fused once into
    # transformers 5's layout, which prunebench's loader reads (checkpoint.moe_fuse); DBRX's
    # and xLSTM's published config.json written as transformers reads them.
    moe_fuse.fuse_experts(path)
    moe_fuse.write_published_config(path)
    return path


def _fetch(repo_id: str, revision: str | None, out_dir: Path, allow: list[str]) -> Path:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, HFValidationError,
                                        LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    from prunebench.checkpoint.pickle_convert import from_pickles

    token = hub_auth()  # read here only; never logged or stored
    bound_hub_waits()  # model_info and the listings below wait forever otherwise
    if revision is None:
        log.warning("model %s has no pinned revision: results may change when the repository "
                    "does; pin one with 'hf:%s@<commit>'", repo_id, repo_id)
    try:
        # The revision is resolved to a commit once, first: the files are downloaded from that
        # commit and checked against its records, and it is the commit recorded. A branch
        # (`main`) that moves while tens of GB arrive would otherwise mix two commits' files,
        # or record a commit other than the one downloaded.
        info = HfApi().model_info(repo_id, revision=revision, files_metadata=True, token=token)
        commit = commit_of(info)
        log.info("downloading %s@%s%s (safetensors, config and tokenizer only%s)", repo_id,
                 revision or "main", f" (commit {commit})" if commit and commit != revision else "",
                 ", and its code files: trust_remote_code is on" if allow != ALLOW_PATTERNS else "")
        path = snapshot_download(repo_id=repo_id, revision=commit or revision,
                                 local_dir=str(out_dir), allow_patterns=allow,
                                 ignore_patterns=IGNORE_PATTERNS, token=token)
        path = Path(path)
        # Offline, huggingface_hub returns an existing local_dir as it is (a warning, no error):
        # a folder that received nothing is then the hub out of reach, not a repository
        # without weights.
        received = [p for p in path.iterdir() if p.name not in (DOWNLOAD_SOURCE, ".cache")]
        if not received and not hub_reachable():
            raise HubUnreachable(_offline_message(repo_id))
        files = repository_files(repo_id, commit or revision, token)
        # By what is on disk, not by whether safetensors files are there: an interrupted
        # conversion leaves some beside the pickles still to convert.
        if from_pickles(path) or not list(path.glob("*.safetensors")):
            listed = sorted(name for name in files or () if name.endswith(".safetensors"))
            if listed and not from_pickles(path):
                # huggingface_hub returns an existing local_dir as it is when listing the
                # files fails (HTTP 429 or 5xx): not a repository without safetensors.
                raise ResourceError(
                    f"the hub lists {len(listed)} safetensors file(s) of {repo_id}@"
                    f"{commit or revision or 'main'} but none arrived (the hub failed part-way): "
                    "rerun later; the download resumes")
            _download_and_convert_pickles(repo_id, revision, info, files, path, token, allow)
        else:
            settle_download(repo_id, revision, info, path, files, allow)
            verify_download(repo_id, revision, path, info, files)
        record_commit(path, commit)
    except PrunebenchError:
        raise
    except GatedRepoError:
        raise PrunebenchError(
            f"{repo_id} is gated: accept its licence on the hub page with your account, then "
            "export HF_TOKEN=<a token with read access> and rerun") from None
    except RevisionNotFoundError:
        raise PrunebenchError(f"{repo_id} has no revision {revision!r}: check the commit or "
                              "branch after '@' in the model source") from None
    except RepositoryNotFoundError:
        raise PrunebenchError(
            f"model repository {repo_id!r} not found (or private and HF_TOKEN is not set): check "
            "the id, or export HF_TOKEN for a private repository") from None
    except HFValidationError:
        raise PrunebenchError(f"{repo_id!r} is not a valid hub repository id: write the "
                              "model source as 'hf:<org>/<repo>@<revision>'") from None
    except LocalEntryNotFoundError:
        raise HubUnreachable(_offline_message(repo_id)) from None
    except HfHubHTTPError as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        if status in (401, 403):
            raise PrunebenchError(
                f"the hub refused access to {repo_id} (HTTP {status}): HF_TOKEN is missing, "
                "expired or lacks read access; create a read token and export HF_TOKEN") from None
        raise ResourceError(f"the hub answered HTTP {status} for {repo_id}: retry later; a "
                            "rerun resumes the download") from None
    except Exception as err:
        if _is_network_error(err):
            raise HubUnreachable(_offline_message(repo_id)) from None
        if is_disk_full(err):
            raise ResourceError(f"disk full while downloading {repo_id} into {out_dir}: free "
                                "space (7B needs ~14 GB, 13B ~26 GB) and rerun; the download "
                                "resumes") from None
        if isinstance(err, OSError):  # a broken-off or inconsistent transfer, an I/O error
            raise ResourceError(f"downloading {repo_id} failed ({type(err).__name__}): check "
                                "the network and the disk, or pre-fetch the model where the "
                                "hub is reachable; a rerun resumes") from None
        raise
    return path


# How long a question to the hub (which commit a branch is at, a repository's files) may wait
# for an answer: huggingface_hub waits forever by default, and a job on a node whose firewall
# drops the packets, or behind a proxy that never answers, would hang with it.
HUB_QUESTION_TIMEOUT_S = 60.0


def bound_hub_waits() -> None:
    """Give every request of huggingface_hub's HTTP client that has no timeout one,
    HUB_QUESTION_TIMEOUT_S per connection, read, write and pool wait (model_info,
    dataset_info and the tree listings of snapshot_download and list_repo_tree have none
    unless asked): once per process, around the client factory in
    place (one the caller set is kept). A timeout a request has is not changed: its file
    downloads pass theirs (HF_HUB_DOWNLOAD_TIMEOUT)."""
    import huggingface_hub
    from huggingface_hub.utils import _http

    current = getattr(_http, "_GLOBAL_CLIENT_FACTORY", None) or _http.default_client_factory
    if getattr(current, "prunebench_bounded", False):
        return

    def bound(request) -> None:
        # A request's timeout as it goes out (httpx's `timeout` extension): huggingface_hub
        # passes None, no limit, explicitly where its caller gave none.
        parts = request.extensions.get("timeout") or {}
        if all(value is None for value in parts.values()):
            request.extensions["timeout"] = dict.fromkeys(
                ("connect", "read", "write", "pool"), HUB_QUESTION_TIMEOUT_S)

    def bounded():
        client = current()
        client.event_hooks["request"].append(bound)
        return client

    bounded.prunebench_bounded = True
    huggingface_hub.set_client_factory(bounded)


def commit_of(info) -> str | None:
    """The commit a model_info answer describes (None where the hub names none)."""
    sha = getattr(info, "sha", None)
    return sha if isinstance(sha, str) else None


_TRUE = {"1", "ON", "YES", "TRUE"}


def _offline() -> bool:
    """Whether huggingface_hub or datasets is told to stay offline (HF_HUB_OFFLINE,
    HF_DATASETS_OFFLINE): then no question is sent to the hub."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or \
        os.environ.get("HF_DATASETS_OFFLINE", "").upper() in _TRUE


def dataset_commit(path: str, revision: str | None = None) -> str | None:
    """The commit hub dataset `path` is at on `revision` (None: its default branch), or None
    where the hub does not say (offline, unreachable, unknown repository): the dataset is then
    loaded at that commit, so the record of what was read names the text even if the
    repository moves on meanwhile. Asked once per load: a question, no download."""
    from huggingface_hub import HfApi

    token = hub_auth()  # a malformed HF_TOKEN is its own error, before anything is asked
    bound_hub_waits()
    if _offline():
        log.info("offline: the commit of dataset %s is not asked; it is read from the cache",
                 path)
        return None
    try:
        info = HfApi().dataset_info(path, revision=revision, token=token)
    except Exception as err:  # noqa: BLE001 - the load that follows reports what is wrong
        from prunebench.oom import first_line

        log.warning("the hub did not say which commit dataset %s%s is at (%s: %s): it is "
                    "loaded at the newest, and its record says 'newest'", path,
                    f" ({revision})" if revision else "", type(err).__name__, first_line(err))
        return None
    return commit_of(info)


def _download_and_convert_pickles(repo_id: str, revision: str | None, info,
                                  files: set[str] | None, path: Path, token: str | bool,
                                  allow: list[str] = ALLOW_PATTERNS) -> None:
    """A repository with pickle weights only: fetch them (from the commit `info` describes,
    which `revision` resolved to), check them against the hub's sha256, and convert them once
    into safetensors without unpickling (prunebench.checkpoint.pickle_convert). An interrupted
    conversion resumes: the pickles it converted (and deleted) are not fetched again. `allow`:
    the patterns the download of the other files (config, tokenizer, ...) fetched by."""
    from huggingface_hub import snapshot_download

    from prunebench.checkpoint.pickle_convert import (conversion_files, convert_pickle_checkpoint,
                                                      converted_pickles, require_safe_torch)

    require_safe_torch(f"{repo_id}'s pickle weights")  # before tens of GB are downloaded
    converted = converted_pickles(path)
    commit = commit_of(info)
    snapshot_download(repo_id=repo_id, revision=commit or revision, local_dir=str(path),
                      allow_patterns=PICKLE_PATTERNS, ignore_patterns=[SUBFOLDERS, *converted],
                      token=token)
    if not list(path.glob("pytorch_model*.bin")) and not converted:
        raise PrunebenchError(
            f"{repo_id}@{revision or 'main'} has neither safetensors nor pytorch_model*.bin "
            "weights: choose a revision or mirror that ships *.safetensors")
    log.warning("%s ships pickle weights only: converting them once to safetensors with torch's "
                "weights-only loader (no code in them runs)", repo_id)
    # The checks of a safetensors download, over both downloads' files: the pickles converted
    # (and deleted) by an interrupted conversion were not fetched again, and the files the
    # conversion wrote are in no commit of the repository but are this download's.
    settle_download(repo_id, revision, info, path, files, [*allow, *PICKLE_PATTERNS],
                    absent=set(converted), own=conversion_files(path))
    verify_download(repo_id, revision, path, info, files, suffix=".bin")
    convert_pickle_checkpoint(path)


def repository_files(repo_id: str, revision: str | None, token: str | bool) -> set[str] | None:
    """The names of the files at the top of the repository at `revision`, from the hub's tree
    listing (paginated and complete, which is what huggingface_hub downloads from: model_info's
    `siblings` may be cut short for a large repository or by the hub's caches, and a file
    missing from a short list would be taken for another commit's). None, with a warning,
    where it cannot be listed: nothing is then deleted or required by it."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFolder

    bound_hub_waits()  # the listing takes no timeout of its own
    try:
        return {entry.path for entry in HfApi().list_repo_tree(
            repo_id, revision=revision, recursive=False, token=token)
            if not isinstance(entry, RepoFolder)}
    except Exception as err:  # noqa: BLE001 - best-effort: the download itself is done
        log.warning("%s: the hub's file list could not be read (%s): files left by an earlier "
                    "download of another commit, if any, are not looked for", repo_id,
                    type(err).__name__)
        return None


def _fetched(name: str, patterns: list[str] = ALLOW_PATTERNS) -> bool:
    """A top-level file the download fetches: judged as snapshot_download judges the file at
    the top of the repository whose path is `name` (`patterns`, the download's allow_patterns,
    and not IGNORE_PATTERNS, with fnmatchcase), so that the files required and deleted here are
    those it fetches. Hidden ones are prunebench's own (the download record) or
    huggingface_hub's, and so are those an interrupted extraction of a multimodal checkpoint's
    language model wrote (its text shards, which its rerun keeps)."""
    from fnmatch import fnmatchcase

    from prunebench.checkpoint.text_part import own_file

    return (not name.startswith(".") and any(fnmatchcase(name, p) for p in patterns)
            and not any(fnmatchcase(name, p) for p in IGNORE_PATTERNS) and not own_file(name))


def settle_download(repo_id: str, revision: str | None, info, path: Path, files: set[str] | None,
                    patterns: list[str], absent: set[str] = frozenset(),
                    own: set[str] = frozenset()) -> None:
    """The checks every download gets once its files are in `path`, whatever its weights'
    format: every file of the commit `info` describes that the download fetches (`patterns`)
    arrived (require_every_file), and none of another commit is left (
    remove_files_of_other_commits). `absent`: files of the commit missing on purpose (pickles
    an interrupted conversion converted and deleted); `own`: files the download made itself
    (the conversion's), which no commit has. Nothing is checked where the hub's file list
    (`files`) could not be read."""
    if files is None:
        return
    require_every_file(repo_id, commit_of(info) or revision, path, files - absent, patterns)
    remove_files_of_other_commits(repo_id, revision, path, files | own, patterns)


def require_every_file(repo_id: str, revision: str | None, path: Path, files: set[str],
                       patterns: list[str] = ALLOW_PATTERNS) -> None:
    """Refuse a download that lacks a file the repository has and the download fetches: the
    hub failing part-way (huggingface_hub returns the folder as it is) would otherwise leave a
    model without its config or tokenizer, found out only by later jobs."""
    missing = sorted(name for name in files
                     if _fetched(name, patterns) and not (path / name).is_file())
    if missing:
        raise ResourceError(
            f"{len(missing)} file(s) of {repo_id}@{revision or 'main'} did not arrive "
            f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}; the hub failed "
            "part-way): rerun later; the download resumes")


def remove_files_of_other_commits(repo_id: str, revision: str | None, path: Path,
                                  files: set[str], patterns: list[str] = ALLOW_PATTERNS) -> None:
    """Delete the top-level files an earlier download into this folder left that the commit
    downloaded (whose top-level `files` the hub lists) does not have: a branch (`main`) that
    moved before a broken-off download resumed. huggingface_hub replaces the files both commits
    have, not the others; a leftover shard would load over the current tensors of the same
    names, a leftover `model.safetensors.index.json` would name shards the commit does not have,
    a leftover tokenizer file would be read instead of the commit's."""
    from prunebench.checkpoint.integrity import MANIFEST

    for file in sorted(path.iterdir()):
        if (file.is_file() and file.name not in files and file.name != MANIFEST
                and _fetched(file.name, patterns)):
            file.unlink()
            log.warning("%s: %s is not in %s@%s (left by an earlier download of another "
                        "commit): deleted", repo_id, file.name, repo_id, revision or "main")


def verify_download(repo_id: str, revision: str | None, path: Path, info,
                    files: set[str] | None, suffix: str = ".safetensors") -> None:
    """Compare every downloaded weight file (`*<suffix>`) with the sha256 the hub records for
    the commit downloaded (`info`: its `HfApi.model_info` with files_metadata); one the commit
    does not have (`files`, its top-level names; None: unknown) is deleted.

    A file that differs (a truncated or corrupted transfer) is deleted, so the rerun that the
    message asks for downloads it again.
    """
    from prunebench.checkpoint.integrity import sha256_file
    from prunebench.checkpoint.text_part import own_file

    expected = {s.rfilename: s.lfs.sha256 for s in (info.siblings or [])
                if s.rfilename.endswith(suffix) and getattr(s, "lfs", None)}
    for file in sorted(path.glob(f"*{suffix}")):
        if own_file(file.name):  # an interrupted extraction's text shard: not the download's
            continue
        if files is not None and file.name not in files:
            # Left by an earlier download of this folder: a branch (`main`) that has moved
            # since, whose old shard would load over the current tensors of the same names.
            file.unlink()
            log.warning("%s: %s is not in %s@%s (left by an earlier download of another "
                        "commit): deleted", repo_id, file.name, repo_id, revision or "main")
            continue
        digest = expected.get(file.name)
        if digest is None:
            log.warning("%s: the hub records no sha256 for %s; not verified", repo_id, file.name)
            continue
        if sha256_file(file) != digest:
            file.unlink()
            raise ResourceError(f"{repo_id}: {file.name} does not match the hub's sha256 "
                                "(corrupted transfer); it was deleted, rerun to download it "
                                "again")
    log.info("%s: %d %s files match the hub's sha256", repo_id, len(expected), suffix)


def record_commit(path: Path, commit: str | None) -> None:
    """Add the commit the hub served to the folder's download record, where the manifest takes
    it from (downloaded_commit): a source without `@<commit>` (none, or a branch) names none."""
    from prunebench.atomic import read_json_or_none, write_json

    record = read_json_or_none(path / DOWNLOAD_SOURCE)
    if commit and isinstance(record, dict):
        write_json(path / DOWNLOAD_SOURCE, {**record, "commit": commit})


def downloaded_commit(path: Path) -> str | None:
    """The commit of the hub download in `path` (record_commit), or None."""
    from prunebench.atomic import read_json_or_none

    record = read_json_or_none(Path(path) / DOWNLOAD_SOURCE)
    commit = record.get("commit") if isinstance(record, dict) else None
    return commit if isinstance(commit, str) else None
