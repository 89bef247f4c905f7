"""`prunebench prune`: the workflow's prune cell (its calibration rule, then its prune rule) on
one checkpoint, writing OUT/checkpoint/ and OUT/prune_report.json as results/pruned/ holds them.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError
from prunebench.atomic import atomic_dir, delete_unless_held, write_json
from prunebench.checkpoint.integrity import sha256_file
from prunebench.commands.arguments import check_out_dir, choice, parse_params, require_hub
from prunebench.commands.model_source import progress_dir, resolve_model
from prunebench.commands.workflow_defaults import embedded_text

log = logging.getLogger(__name__)


def prune_command(args) -> Path:
    """`prunebench prune`: the workflow's prune cell (calibration rule + prune rule)."""
    from prunebench.data import SAMPLINGS, SOURCES
    from prunebench.local_text import (DEFAULT_FIELD, FILE_PREFIX, file_problem, is_jsonl,
                                       named_file)
    from prunebench.methods.registry import DATA_FREE, checked_params, resolve_calibration
    from prunebench.checkpoint.param_count import checked_config_json, config_from_dict
    from prunebench.methods.sizing import check_prunable
    from prunebench.plan.sizes import parse_size_spec

    # The arguments are checked before torch is imported (seconds): a typo is refused at once.
    if args.method == "dense":
        raise PrunebenchError("'dense' is the unpruned model: there is nothing to prune; bench "
                              "or eval the model itself")
    # The size names the variant (`<method>-<size>`), so it is written as a config writes one.
    if args.size != args.size.strip().upper():
        try:  # no hint that is itself malformed ('1e6' -> '1E6'): the size as typed is named
            parse_size_spec(args.size.strip().upper())
        except PrunebenchError:
            parse_size_spec(args.size)
        raise PrunebenchError(f"--size {args.size!r}: write it as a variant's size is written, "
                              f"without spaces and with the suffix in upper case "
                              f"({args.size.strip().upper()!r}), e.g. 4.9B, 1500M or 0.8")
    params = parse_params(args.param)
    # an unknown method or parameter names the known ones; a bad value, what it accepts
    checked_params(args.method, params)
    overrides = {k: getattr(args, k) for k in ("source", "n", "length", "seed", "sampling")
                 if getattr(args, k) is not None}
    if args.method in DATA_FREE and overrides:
        raise PrunebenchError(f"{args.method} is data-free: it reads no calibration data, so "
                              f"drop --calibration / --n / --length / --seed / --sampling")
    if args.source is not None and not args.source.startswith(FILE_PREFIX):
        choice(args.source, SOURCES, "--calibration source")
    file_source = named_file(args.source or "")
    # a field given for a plain text file would be ignored without a word: its rows are lines
    if args.text_field is not None and (file_source is None or not is_jsonl(file_source)):
        raise PrunebenchError("--text-field names the field of a --calibration file:<path> "
                              "ending in .jsonl (a plain text file's rows are its lines): drop "
                              "it, or give such a file")
    if file_source is not None:
        if problem := file_problem(file_source):
            raise PrunebenchError(f"--calibration {args.source}: {problem}: give the path of a "
                                  "text file (.jsonl, or one row a line)")
        # which text, recorded in the report's calibration: the file may change later (the
        # field only where there is one: a plain text file's rows are its lines)
        overrides.update(source=f"{FILE_PREFIX}{file_source}",
                         **({"field": args.text_field or DEFAULT_FIELD}
                            if is_jsonl(file_source) else {}),
                         sha256=sha256_file(file_source))
    if args.sampling is not None:
        choice(args.sampling, SAMPLINGS, "--sampling")
    out = Path(args.out)
    check_out_dir(out, args.force, writes=("prune_report.json",))
    # a missing folder: said before torch loads
    ckpt = resolve_model(args.model, args.cache_dir, args.trust_remote_code)
    if ckpt.report is not None:
        base = (ckpt.report.get("base") or {}).get("checkpoint")
        raise PrunebenchError(
            f"{args.model} holds {ckpt.variant} of {ckpt.name}, an output of prunebench prune or "
            "recover: pruning it again would measure --size against it, not the dense model, "
            "and name the result as if pruned from dense; prune the dense model"
            f"{f' ({base})' if base else ''} to the size wanted instead")
    check_out_dir(out, args.force, ckpt.path, ("prune_report.json",))
    # The size and what the method needs of the model (protection that leaves a block, a
    # reachable target) from its config.json alone, before torch is imported (seconds): refused
    # at once.
    check_prunable(config_from_dict(checked_config_json(ckpt.path)), args.method, args.size,
                   params)

    from prunebench.checkpoint.integrity import safetensors_problems
    from prunebench.methods.loss_memo import ScoringProgress
    from prunebench.modeling import load_config, require_tokenizer, resolve_device, weight_files
    from prunebench.plan.layout import SCORING_PROGRESS_VARIABLE
    from prunebench.pruning import prune_checkpoint
    from prunebench.results import prune_report

    config = load_config(ckpt.path)  # its context, as transformers reads it
    calibration = None if args.method in DATA_FREE else resolve_calibration(args.method, overrides)
    context = config.max_position_embeddings
    if calibration is not None and calibration["length"] > context:  # before the drawing
        given = "--length" if args.length is not None else f"{args.method}'s default"
        raise PrunebenchError(f"calibration windows of {calibration['length']} tokens ({given}) "
                              f"exceed the model's context of {context}: give --length {context} "
                              "or less")
    # What stops the prune once its weights load, said before the windows are drawn (a hub
    # text's download and tokenization): no GPU, weights that are not whole safetensors.
    device = resolve_device(args.device, "--device")
    damaged = safetensors_problems(weight_files(ckpt.path))
    if damaged:
        raise PrunebenchError(f"checkpoint {ckpt.path}: {'; '.join(damaged)}: re-download it, or "
                              "re-run the step that made it")
    windows = None
    if calibration is not None:
        if calibration["source"] != "embedded" and file_source is None:
            require_hub(f"calibration from {calibration['source']}",
                        "calibrate on the pipeline's own text instead (--calibration embedded)")
        tokenizer = require_tokenizer(ckpt.path, "drawing calibration windows",
                                      args.trust_remote_code)
        windows = draw_calibration(tokenizer, calibration)
    variant = f"{args.method}-{args.size}"
    cell = {"model": ckpt.name, "source": ckpt.source, "variant": variant, "method": args.method,
            "size": args.size, "params": params, "calibration": calibration}
    # depth_ppl's and SLEB's losses are kept as they come: the same command rerun after an
    # interruption computes only the rest (methods.loss_memo); deleted once the output is whole.
    progress = ScoringProgress(progress_dir(SCORING_PROGRESS_VARIABLE, "scoring-progress"))
    with atomic_dir(out) as tmp:
        report = prune_checkpoint(ckpt.path, args.method, args.size, tmp / "checkpoint", windows,
                                  params, device=device,
                                  trust_remote_code=args.trust_remote_code, progress=progress)
        write_json(tmp / "prune_report.json", prune_report(
            report, model=ckpt.name, variant=variant, checkpoint=out / "checkpoint",
            calibration=calibration, cell=cell))
    for path in progress.opened:
        delete_unless_held(path)
    print(f"{variant}: {report['params_before']:,} -> {report['params_after']:,} params, "
          f"{report['blocks_before']} -> {report['blocks_after']} blocks")
    print(f"wrote {out / 'checkpoint'} and {out / 'prune_report.json'}")
    return out


def draw_calibration(tokenizer, calibration: dict[str, Any]):
    """The windows the workflow's calibration rule draws for these settings (its script's
    calls), kept in memory instead of a calibration file."""
    from prunebench.data import JOINERS, draw_windows, load_rows
    from prunebench.local_text import DEFAULT_FIELD, named_file, read_source

    sampling = calibration["sampling"]
    # The joined samplings join the split's rows as the originals do, empty ones included.
    keep_empty = sampling in JOINERS
    if (file := named_file(calibration["source"])) is not None:  # a text of your own
        rows, _, sha256 = read_source(file, calibration.get("field", DEFAULT_FIELD))
        # The report records the sha256 hashed when the command started: the windows must
        # come from those bytes, not from a file rewritten since.
        if calibration.get("sha256", sha256) != sha256:
            raise PrunebenchError(f"{file} changed since this command hashed it (sha256 "
                                  f"{calibration['sha256']}, now {sha256}): rerun the command "
                                  "once the file is written")
        rows = [row for row in rows if keep_empty or row.strip()]
    else:
        with tempfile.TemporaryDirectory() as scratch:
            embedded_dir = (embedded_text(Path(scratch)) if calibration["source"] == "embedded"
                            else None)
            rows = load_rows(calibration["source"], "train", embedded_dir, keep_empty=keep_empty)
    windows = draw_windows(rows, tokenizer, int(calibration["n"]), int(calibration["length"]),
                           int(calibration["seed"]), sampling, source=calibration["source"])
    log.info("%d calibration windows of %d tokens from %s (%s)", len(windows), windows.shape[1],
             calibration["source"], sampling)
    return windows
