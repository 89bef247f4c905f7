"""Model sources: `hf:<repo>@<revision>` (Hugging Face hub), `tiny` (built here), `random:<arch>`.

Hub downloads take the access token from the environment (`HF_TOKEN`) and never log it; every
failure mode a user can fix (offline, gated, wrong id or revision, no safetensors) stops with a
message saying what to do.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from prunebench import PrunebenchError

log = logging.getLogger(__name__)

# Only what a safetensors checkpoint needs; pickle weights are never downloaded.
ALLOW_PATTERNS = ["*.json", "*.safetensors", "tokenizer.model", "*.txt", "*.tiktoken"]

_SOURCE = re.compile(r"^(?P<kind>hf|random|tiny)(?::(?P<name>[^@]+)(?:@(?P<revision>.+))?)?$")


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "hf", "random" or "tiny"
    name: str | None = None  # hub repo id, or architecture name for random
    revision: str | None = None


def parse_source(source: str) -> ModelSource:
    match = _SOURCE.match(source.strip())
    if not match or (match["kind"] in ("hf", "random") and not match["name"]):
        raise PrunebenchError(
            f"malformed model source {source!r}: use 'tiny', 'hf:<org>/<repo>@<revision>' or "
            "'random:<architecture>' (e.g. 'random:llama-7b')")
    if match["kind"] == "tiny" and match["name"]:
        raise PrunebenchError(f"model source {source!r}: 'tiny' takes no name")
    return ModelSource(match["kind"], match["name"], match["revision"])


def download(repo_id: str, revision: str | None, out_dir: str | Path) -> Path:
    """Download a hub checkpoint's safetensors, config and tokenizer files into out_dir.

    Resumable: huggingface_hub keeps partial files and skips completed ones on a rerun.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (GatedRepoError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    token = os.environ.get("HF_TOKEN") or None  # read here only; never logged or stored
    if revision is None:
        log.warning("model %s has no pinned revision: results may change when the repository "
                    "does; pin one with 'hf:%s@<commit>'", repo_id, repo_id)
    log.info("downloading %s@%s (safetensors, config and tokenizer only)", repo_id, revision or "main")
    try:
        path = snapshot_download(repo_id=repo_id, revision=revision, local_dir=str(out_dir),
                                 allow_patterns=ALLOW_PATTERNS, token=token)
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
    except LocalEntryNotFoundError:
        raise PrunebenchError(
            f"cannot reach the Hugging Face hub to download {repo_id}: this machine is offline. "
            "Pre-fetch the models on a machine with network (`snakemake prefetch`), or copy the "
            "checkpoint into resources/models/<name>/") from None
    except OSError as err:  # connection errors surface as OSError subclasses
        raise PrunebenchError(f"downloading {repo_id} failed ({type(err).__name__}): check the "
                              "network, or pre-fetch the model where the hub is reachable") from None
    path = Path(path)
    if not list(path.glob("*.safetensors")):
        raise PrunebenchError(
            f"{repo_id}@{revision or 'main'} has no safetensors weights; prunebench never loads "
            "pickle files. Choose a revision or mirror that ships *.safetensors")
    return path
