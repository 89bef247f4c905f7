"""The result files of one cell, field by field: the prune report of a pruned or recovered
variant, ppl.json, zeroshot.json and lm_eval.json; and the record of what the tables and
figures were made from (results/tables/provenance.json).

The workflow's rule scripts and the single-checkpoint commands (`prunebench prune`, `recover`,
`eval`) both build their files here, so a command writes what a workflow cell writes. Each file
carries its provenance (prunebench.provenance) with the cell's config: the model's name and
source (a hub repository at its revision, `tiny`, `random:<arch>` or a folder), the variant and
the settings that made it.

The rule scripts stay thin on purpose: Snakemake reruns a rule's finished jobs when its script
changes, not when the library it calls does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prunebench.checkpoint.param_count import block_count, count_params
from prunebench.plan.variants import canonical
from prunebench.provenance import provenance


def dense_report(config, *, model: str, source: str, checkpoint: str | Path) -> dict[str, Any]:
    """prune_report.json of the dense variant of the model `config` describes: nothing removed,
    its size and its blocks from the config alone (`param_count.block_count`, the blocks a depth
    prune removes: LongCat-Flash's num_layers, not its num_hidden_layers, which counts its two
    attentions a block). workflow/scripts/dense_report.py and `prunebench recover` of a dense
    model write it."""
    params, blocks = count_params(config), block_count(config)
    return {
        "model": model, "variant": "dense", "method": "dense", "target": None,
        "target_params": params, "params_before": params, "params_after": params,
        "blocks_before": blocks, "blocks_after": blocks, "checkpoint": str(checkpoint),
        "provenance": provenance(cell={"model": model, "source": source, "variant": "dense"}),
    }


def prune_report(report: dict[str, Any], *, model: str, variant: str, checkpoint: str | Path,
                 calibration: dict[str, Any] | None, cell: dict[str, Any]) -> dict[str, Any]:
    """prune_report.json of a pruned variant: `prunebench.pruning.prune_checkpoint`'s report,
    named, with the calibration settings it read (None for a data-free method)."""
    calibration = canonical(calibration) if calibration else None
    return {
        "model": model, "variant": variant, **report, "calibration": calibration,
        "checkpoint": str(checkpoint),
        "provenance": provenance(device=report["device"],
                                 seed=calibration["seed"] if calibration else None,
                                 cell=canonical(cell)),
    }


def recovered_report(base_report: dict[str, Any], recovery: dict[str, Any], *, variant: str,
                     base: str, checkpoint: str | Path, settings: dict[str, Any],
                     cell: dict[str, Any]) -> dict[str, Any]:
    """prune_report.json of a LoRA-recovered variant: the base variant's report plus the
    `recovery` section (`prunebench.lora.recover_checkpoint`'s report, with its provenance).

    Params, blocks and method stay the base variant's (merging adds no parameters), so the
    tables place the recovered variant beside its base; the base's provenance is kept as
    `base_provenance`."""
    recovery = {**recovery, "provenance": provenance(device=recovery["device"],
                                                     seed=settings["seed"], cell=canonical(cell))}
    return {
        **{k: v for k, v in base_report.items() if k != "provenance"},
        "variant": variant, "base_variant": base, "checkpoint": str(checkpoint),
        "recovery": recovery, "base_provenance": base_report.get("provenance"),
        "provenance": recovery["provenance"],
    }


def perplexity_result(scores: dict[str, dict[str, Any]], *, model: str, variant: str,
                      params: int, settings: dict[str, Any], splits: dict[str, str], device,
                      cell: dict[str, Any]) -> dict[str, Any]:
    """ppl.json: `prunebench.evaluate.perplexities`' scores per dataset, with the window
    settings and the split each text came from."""
    datasets = list(scores)
    return {
        "model": model, "variant": variant, "params": params,
        "window": settings["window"], "stride": settings.get("stride") or settings["window"],
        "bos": settings["bos"], "tokenization": settings.get("tokenization") or "tokenizer",
        "perplexity": {d: scores[d]["perplexity"] for d in datasets},
        "details": scores, "splits": {d: splits[d] for d in datasets},
        "provenance": provenance(device=device, cell=canonical(cell)),
    }


def zeroshot_results(out: dict[str, Any], *, model: str, variant: str, params: int,
                     settings: dict[str, Any], suite: dict[str, Any] | None, elapsed_s: float,
                     device, cell: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(zeroshot.json, lm_eval.json) from `prunebench.zeroshot.evaluate`'s output: the summary
    with the settings and the offline suite's description, and lm-eval's own results JSON."""
    record = provenance(device=device, seed=settings["seed"], cell=canonical(cell))
    summary = {
        "model": model, "variant": variant, "params": params, **out["summary"],
        "tasks": settings["tasks"], "num_fewshot": settings["num_fewshot"],
        "limit": settings["limit"], "batch_size": settings["batch_size"],
        "seed": settings["seed"], "suite": suite,
        "lm_eval_version": record["versions"]["lm_eval"], "elapsed_s": elapsed_s,
        "provenance": record,
    }
    return summary, {**out["lm_eval"], "provenance": record}


def aggregation_record(inputs: dict[str, list[str | Path]], settings: dict[str, Any],
                       configfiles: str | None = None) -> dict[str, Any]:
    """results/tables/provenance.json: what the tables and figures were made from. Every input
    file with its sha256 and, for a result file, its own provenance block (code, versions,
    device, seed and the cell's config; for the dense model's report, which weights it names:
    its manifest's sha256, source and hub commit); then the aggregation's own provenance, its settings
    as the cell. A CSV or a figure cannot carry this itself; with it, every number in them
    leads back to the run that made it."""
    from prunebench.atomic import read_json
    from prunebench.checkpoint.integrity import base_record, sha256_file

    files = []
    for kind, paths in inputs.items():
        for path in map(Path, paths):
            entry: dict[str, Any] = {"kind": kind, "path": str(path),
                                     "sha256": sha256_file(path)}
            if path.suffix == ".json":
                data = read_json(path)
                entry["provenance"] = data.get("provenance") if isinstance(data, dict) else None
                if kind == "prune_report" and isinstance(data, dict) and \
                        data.get("method") == "dense" and isinstance(data.get("checkpoint"), str):
                    # A pruned variant's report names the weights it was cut from (`base`);
                    # the dense one's names its folder only: which weights those were, here.
                    entry["weights"] = base_record(data["checkpoint"])
            files.append(entry)
    # `configfiles`, the run's `--configfile ...`, for a later run that would remake the tables
    # without some rows (plan.preflight.dropped_rows_warning names them).
    return {"inputs": files, "configfiles": configfiles or None,
            "provenance": provenance(cell=canonical(settings))}
