"""One-time fusion of a mixture-of-experts checkpoint's per-expert weights (Mixtral, Qwen3-MoE,
OLMoE, Qwen2-MoE).

transformers 5 holds a sparse block's experts as two 3D parameters, `mlp.experts.gate_up_proj`
[experts, 2 * width, hidden] (each expert's rows [gate; up]) and `mlp.experts.down_proj`
[experts, hidden, width], and converts the per-expert tensors of published checkpoints as
`from_pretrained` reads them. prunebench reads safetensors itself (`modeling.load_model`), so a
checkpoint with per-expert tensors is fused once, when it is downloaded or imported, as pickle
weights are converted once (checkpoint.pickle_convert):

- Mixtral: `model.layers.N.block_sparse_moe.experts.E.w1 / w3 / w2.weight` (gate, up, down)
  and the router `block_sparse_moe.gate.weight`, under `mlp.` in transformers 5;
- Qwen3-MoE, OLMoE and Qwen2-MoE: `model.layers.N.mlp.experts.E.gate_proj / up_proj /
  down_proj.weight` (the router `mlp.gate.weight`, a dense block's `mlp.gate_proj` ... and
  Qwen2-MoE's shared expert `mlp.shared_expert.gate_proj / up_proj / down_proj.weight` and its
  gate `mlp.shared_expert_gate.weight` keep their names: transformers' conversion mapping of
  `qwen2_moe`, which Qwen3-MoE and OLMoE take too, fuses the numbered experts only).

Each block's tensors are read (one block in memory at a time, whichever original file holds
them) and written to a shard of their own, `model-fused-00001-of-000NN.safetensors`; the rest
(embeddings, final norm, LM head) go to the last shard. Resumable: a shard is written whole (by
rename) and kept by a rerun made from the same original files (`.moe_fusion.progress.json`
records their sizes and times); the originals are deleted last, once the index names the fused
shards and `moe_fusion.json` records what was done (hashed with the checkpoint's other files by
its manifest). A fusion left unfinished where nothing is left to fuse (a download resumed
after its branch moved to a commit whose experts are fused already) is deleted. prunebench's own
saved checkpoints are fused already and left alone.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError

log = logging.getLogger(__name__)

RECORD = "moe_fusion.json"
PROGRESS = ".moe_fusion.progress.json"  # hidden: no manifest records it
FUSED_SHARD = "model-fused-{:05d}-of-{:05d}.safetensors"

# A per-expert tensor: (block prefix, expert, projection). Mixtral's names are w1 (gate), w3
# (up) and w2 (down) under block_sparse_moe (transformers 4's module name) or mlp; Qwen3-MoE's,
# OLMoE's and Qwen2-MoE's are gate_proj, up_proj and down_proj under mlp (Qwen2-MoE's
# `mlp.shared_expert.*`, no numbered expert, is a plain tensor).
_EXPERT = re.compile(r"^(model\.layers\.\d+)\.(?:block_sparse_moe|mlp)\.experts\.(\d+)\."
                     r"(w1|w2|w3|gate_proj|up_proj|down_proj)\.weight$")
_PART = {"w1": "gate", "gate_proj": "gate", "w3": "up", "up_proj": "up",
         "w2": "down", "down_proj": "down"}
_BLOCK = re.compile(r"^(model\.layers\.\d+)\.")
MOE_TYPES = ("mixtral", "qwen3_moe", "olmoe", "qwen2_moe")


def fused_name(name: str) -> str:
    """A non-expert tensor's name in transformers 5's layout (Mixtral's block_sparse_moe is
    mlp there: its router `block_sparse_moe.gate.weight` becomes `mlp.gate.weight`)."""
    return name.replace(".block_sparse_moe.", ".mlp.")


def per_expert_names(names) -> list[str]:
    """The names among `names` of per-expert tensors (a checkpoint to fuse has some)."""
    return [n for n in names if _EXPERT.match(n) or ".block_sparse_moe." in n]


def _tensor_names(files: list[Path]) -> dict[str, Path]:
    from safetensors import safe_open

    where: dict[str, Path] = {}
    for file in files:
        with safe_open(file, framework="pt") as handle:
            for name in handle.keys():
                where[name] = file
    return where


def _originals(folder: Path) -> list[Path]:
    from prunebench.checkpoint.integrity import weight_files

    try:
        files = [f for f in weight_files(folder) if not _is_fused_shard(f.name)]
    except PrunebenchError:  # an index a run rewrote names fused shards only
        files = []
    return files or sorted(f for f in folder.glob("*.safetensors")
                           if not _is_fused_shard(f.name))


def needs_fusion(folder: str | Path) -> bool:
    """Whether `folder` is a Mixtral, Qwen3-MoE, OLMoE or Qwen2-MoE checkpoint with per-expert
    tensors (or a fusion of one under way)."""
    from prunebench.atomic import read_json_or_none

    folder = Path(folder)
    raw = read_json_or_none(folder / "config.json")
    if not isinstance(raw, dict) or raw.get("model_type") not in MOE_TYPES or finished(folder):
        return False
    originals = _originals(folder)
    return bool(originals) and bool(per_expert_names(_tensor_names(originals)))


def fuse_experts(folder: str | Path, hash_sources: bool = False) -> bool:
    """Fuse the per-expert tensors of the checkpoint in `folder` in place (module docstring);
    True if it did. `hash_sources`: record the sha256 of the files it replaces (an import's).
    A finished fusion's originals left by a run that ended before deleting them are deleted."""
    from prunebench.atomic import read_json_or_none, write_json
    from prunebench.checkpoint.integrity import SAFETENSORS_INDEX, sha256_files

    folder = Path(folder)
    if not needs_fusion(folder):
        _delete_originals(folder)
        _discard_unfinished(folder)
        return False
    originals = _originals(folder)
    where = _tensor_names(originals)
    blocks = _grouped(where, folder)
    state = {f.name: [f.stat().st_size, f.stat().st_mtime_ns] for f in originals}
    if read_json_or_none(folder / PROGRESS) != state:  # shards of other files: made again
        for stale in folder.glob("model-fused-*.safetensors"):
            stale.unlink()
        write_json(folder / PROGRESS, state)
    sources = sha256_files(originals) if hash_sources else None
    weight_map, total, experts = {}, 0, {}
    for i, (block, names) in enumerate(blocks.items(), start=1):
        shard = FUSED_SHARD.format(i, len(blocks))
        written, size, count = _write_shard(block, names, where, folder / shard)
        weight_map.update(dict.fromkeys(written, shard))
        total += size
        if count:
            experts[block] = count
    write_json(folder / RECORD, {
        "fused_from": sorted(f.name for f in originals),
        "fused_weight_files": sorted(set(weight_map.values())),
        "experts_per_block": experts,
        "layout": "mlp.experts.gate_up_proj [experts, 2 * width, hidden] (rows [gate; up]), "
                  "mlp.experts.down_proj [experts, hidden, width]",
        **({"source_sha256": sources} if sources is not None else {})})
    write_json(folder / SAFETENSORS_INDEX, {"metadata": {"total_size": total},
                                            "weight_map": dict(sorted(weight_map.items()))})
    _delete_originals(folder)
    log.info("%s: fused the per-expert weights of %d blocks into transformers 5's layout",
             folder, len(experts))
    return True


def _grouped(where: dict[str, Path], folder: Path) -> dict[str, list[str]]:
    """The tensor names by block (`model.layers.N`), in block order, the others last ('')."""
    groups: dict[str, list[str]] = {}
    for name in where:
        match = _BLOCK.match(name)
        groups.setdefault(match.group(1) if match else "", []).append(name)
    order = sorted((k for k in groups if k), key=lambda k: int(k.rsplit(".", 1)[1]))
    if not order:
        raise PrunebenchError(f"{folder}: no decoder block's tensor in its weights: re-download "
                              "the checkpoint, or save it again with save_pretrained")
    return {k: groups[k] for k in order + ([""] if "" in groups else [])}


def _write_shard(block: str, names: list[str], where: dict[str, Path],
                 target: Path) -> tuple[list[str], int, int]:
    """Write one block's tensors, its experts fused, to `target` (kept if an earlier run wrote
    it whole); returns the names written, their bytes and the block's experts."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    from prunebench.atomic import atomic_path

    experts: dict[int, dict[str, Any]] = {}
    plain = []
    for name in names:
        match = _EXPERT.match(name)
        if match:
            experts.setdefault(int(match.group(2)), {})[_PART[match.group(3)]] = name
        else:
            plain.append(name)
    if experts:
        ids = sorted(experts)
        gaps = [e for e in range(len(ids)) if e not in experts]
        parts_missing = [f"{e}: {sorted({'gate', 'up', 'down'} - set(experts[e]))}"
                         for e in ids if set(experts[e]) != {"gate", "up", "down"}]
        if gaps or parts_missing:
            raise PrunebenchError(
                f"{block}: the checkpoint's experts are incomplete (missing experts {gaps}, "
                f"projections {parts_missing}): re-download the checkpoint (nothing was "
                "changed)")
    out_names = [fused_name(n) for n in plain]
    if experts:
        out_names += [f"{block}.mlp.experts.gate_up_proj", f"{block}.mlp.experts.down_proj"]
    handles: dict[Path, Any] = {}

    def get(name: str) -> torch.Tensor:
        file = where[name]
        if file not in handles:
            handles[file] = safe_open(file, framework="pt")
        return handles[file].get_tensor(name)

    if target.is_file():  # written whole (by rename) from these originals by an earlier run
        from prunebench.checkpoint.text_part import _nbytes

        with safe_open(target, framework="pt") as handle:  # sizes from the header: no reads
            size = sum(_nbytes(handle.get_slice(n)) for n in handle.keys())
            written = list(handle.keys())
        if sorted(written) == sorted(out_names):
            return written, size, len(experts)
        target.unlink()
    tensors = {fused_name(n): get(n) for n in plain}
    if experts:
        # transformers 5's layout: each expert's rows [gate; up] (as MixtralExperts,
        # Qwen3MoeExperts, OlmoeExperts and Qwen2MoeExperts chunk them), experts stacked on a
        # new first dimension.
        order = range(len(experts))
        tensors[f"{block}.mlp.experts.gate_up_proj"] = torch.stack(
            [torch.cat([get(experts[e]["gate"]), get(experts[e]["up"])], dim=0) for e in order])
        tensors[f"{block}.mlp.experts.down_proj"] = torch.stack(
            [get(experts[e]["down"]) for e in order])
    with atomic_path(target) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp),
                  metadata={"format": "pt"})
    return list(tensors), sum(t.nbytes for t in tensors.values()), len(experts)


def finished(folder: str | Path) -> bool:
    """Whether `folder` holds a finished fusion: its index naming exactly the fused shards its
    record lists, all there."""
    from prunebench.atomic import read_json_or_none
    from prunebench.checkpoint.integrity import _indexed_shards

    folder = Path(folder)
    record = read_json_or_none(folder / RECORD)
    if not isinstance(record, dict):
        return False
    try:
        indexed = _indexed_shards(folder)
    except PrunebenchError:
        return False
    files = record.get("fused_weight_files") or ()
    return (indexed is not None and set(indexed) == set(files)
            and all((folder / name).is_file() for name in files))


def _delete_originals(folder: Path) -> None:
    """Delete the per-expert originals once the fusion is finished (its last step, redone if a
    run ended before it); nothing the index names is deleted."""
    from prunebench.atomic import read_json_or_none
    from prunebench.checkpoint.integrity import _indexed_shards

    if not finished(folder):
        return
    named = set(_indexed_shards(folder) or ())
    for name in read_json_or_none(folder / RECORD).get("fused_from") or ():
        if isinstance(name, str) and Path(name).name == name and name not in named:
            (folder / name).unlink(missing_ok=True)
    (folder / PROGRESS).unlink(missing_ok=True)


def _discard_unfinished(folder: Path) -> None:
    """Delete what an unfinished fusion wrote (its fused shards, its progress, its record if
    written) where nothing is left to fuse: an unpinned download killed while fusing, resumed
    after its branch moved to a commit whose weights are fused already. The download keeps
    fused shards as its own files (text_part.own_file), so the stale ones would otherwise go
    into the checkpoint: GBs never loaded, and a record of a fusion its weights never had."""
    if finished(folder) or not (folder / PROGRESS).is_file():
        return
    for stale in folder.glob("model-fused-*.safetensors"):
        stale.unlink()
    (folder / RECORD).unlink(missing_ok=True)
    (folder / PROGRESS).unlink()
    log.warning("%s: deleted the shards of an unfinished fusion of per-expert weights that are "
                "no longer there", folder)


def own_file(name: str) -> bool:
    """Whether `name` is a file a fusion writes (a fused shard, its record): not one of the
    download's, which a rerun of the download must not take for another commit's."""
    return _is_fused_shard(name) or name == RECORD


def _is_fused_shard(name: str) -> bool:
    return name.startswith("model-fused-") and name.endswith(".safetensors")
