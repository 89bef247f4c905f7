"""`prunebench recover`: the workflow's `lora` cell (its instructions rule, then its lora rule)
on one pruned checkpoint, writing OUT/checkpoint/ and OUT/prune_report.json as
results/pruned/<model>/<variant>+lora/ holds them.

The input is what `prunebench prune` writes (or a workflow variant folder): the recovered
report is its prune report plus a `recovery` section, so the recovered variant sits beside its
base in every table. A dense model (a checkpoint without a prune report, or an hf: model)
gives the workflow's `dense+lora`, on the dense variant's report.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError, did_you_mean
from prunebench.atomic import atomic_dir, write_json
from prunebench.commands.arguments import check_out_dir, parse_params, require_hub
from prunebench.commands.model_source import Checkpoint, resolve_model
from prunebench.commands.workflow_defaults import embedded_text
from prunebench.methods.registry import SUFFIX
from prunebench.plan.lora_settings import DATA_OPTIONAL, DEFAULTS, OPTIONAL
from prunebench.plan.variants import lora_settings

log = logging.getLogger(__name__)

# Option (its argparse dest) -> the `lora:` setting it sets; `data.` settings are nested.
# Every other setting is reachable through --setting KEY=VALUE.
LORA_OPTIONS = {
    "data": "data.source", "val_size": "data.val_size", "max_train": "data.max_train",
    "rank": "r", "epochs": "epochs", "lr": "lr", "batch_size": "batch_size",
    "micro_batch_size": "micro_batch_size", "max_length": "max_length", "template": "template",
    "warmup_steps": "warmup_steps", "eval_every": "eval_every", "seed": "seed",
}
# Each setting an option sets -> that option as typed (`r` -> `--rank`).
FLAG_OF = {key: f"--{option.replace('_', '-')}" for option, key in LORA_OPTIONS.items()}
SETTABLE = ([k for k in DEFAULTS if k != "data"] + list(OPTIONAL)
            + [f"data.{k}" for k in (*DEFAULTS["data"], *DATA_OPTIONAL)])


def recover_command(args) -> Path:
    """`prunebench recover`: the workflow's instructions + lora rules on one pruned (or dense)
    checkpoint."""
    # The settings are checked before torch is imported (seconds): a typo is refused at once.
    section = lora_section(args)
    try:
        settings = lora_settings({"lora": section})  # the workflow's resolution
    except PrunebenchError as err:
        raise PrunebenchError(with_options(str(err))) from None
    out = Path(args.out)
    check_out_dir(out, args.force, writes=("prune_report.json",))

    from prunebench.lora import progress_path_for, recover_checkpoint
    from prunebench.modeling import resolve_device
    from prunebench.results import recovered_report

    source = settings["data"]["source"]
    if source != "embedded":
        require_hub(f"LoRA recovery on {source} instructions",
                    "train on the pipeline's own records instead (--data embedded)")
    ckpt = resolve_model(args.model, args.cache_dir, args.trust_remote_code)
    base, base_report = base_variant(ckpt)
    check_out_dir(out, args.force, ckpt.path, ("prune_report.json",))
    # Resolved here, as prune, bench and eval resolve theirs: a device this machine lacks is
    # said with the option that gave it, before the records are read (a hub download).
    device = resolve_device(args.device, "--device")
    variant = f"{base}+lora"
    with atomic_dir(out) as tmp:
        try:  # the data's and the training's errors name config keys too: with their options
            records = instruction_records(settings["data"])
            recovery = recover_checkpoint(ckpt.path, tmp / "checkpoint", records, settings,
                                          device=device,
                                          trust_remote_code=args.trust_remote_code,
                                          # beside --out, which is made only at the end: the
                                          # same command again resumes a killed recovery
                                          progress_path=progress_path_for(out),
                                          keep_progress=True)  # deleted below, once written
        except PrunebenchError as err:
            # the cause kept: a full disk's is what atomic_dir names the output folder by
            raise type(err)(with_options(str(err))) from err.__cause__
        write_json(tmp / "prune_report.json", recovered_report(
            base_report, recovery, variant=variant, base=base, checkpoint=out / "checkpoint",
            settings=settings,
            cell={"model": ckpt.name, "source": ckpt.source, "variant": variant,
                  "base_variant": base, "lora": settings}))
    progress_path_for(out).unlink(missing_ok=True)  # the report is written: no resume needed
    print(f"{variant}: validation loss {recovery['initial_val_loss']:.4f} -> "
          f"{recovery['best_val_loss']:.4f} (step {recovery['best_step']} of "
          f"{recovery['steps']} kept)")
    print(f"wrote {out / 'checkpoint'} and {out / 'prune_report.json'}")
    return out


def with_options(message: str) -> str:
    """A `lora` settings error (which names config keys: `lora.batch_size=10 is not a multiple
    of micro_batch_size=4`) with the options that set those keys."""
    named = []
    # `lora.<key>`, `<key>=`, and the keys of two words or more named alone (weight_decay)
    for match in re.finditer(r"lora\.([a-z_]+(?:\.[a-z_]+)*)|\b([a-z_]+)=|\b([a-z]+_[a-z_]+)\b",
                             message):
        key = match[1] or match[2] or match[3]
        flag = FLAG_OF.get(key, f"--setting {key}=..." if key in SETTABLE else None)
        if flag and flag not in named:
            named.append(flag)
    if not named:
        return message
    listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
    return f"{message} (set by {listed})"


def lora_section(args) -> dict[str, Any]:
    """The config `lora:` section the options stand for (data.* nested under `data`)."""
    flat = {key: getattr(args, option) for option, key in LORA_OPTIONS.items()}
    for key, value in parse_params(args.setting, "--setting", "dropout=0.1").items():
        if key in FLAG_OF:
            raise PrunebenchError(f"--setting {key}: set it with {FLAG_OF[key]} instead")
        if key in LORA_OPTIONS:  # an option's own name (`rank` for the setting `r`)
            raise PrunebenchError(f"--setting {key}: set it with --{key.replace('_', '-')} "
                                  "instead")
        if key not in SETTABLE:
            raise PrunebenchError(f"unknown --setting {key}{did_you_mean(key, SETTABLE)}: "
                                  f"choose among {SETTABLE} "
                                  "(config/README.md, `lora`)")
        if isinstance(DEFAULTS.get(key), list) and isinstance(value, str):
            value = value.split(",")  # target_modules=q_proj,v_proj
        if key == "amp" and value is None:
            value = "none"  # `amp=none` is one of its names, not a setting left out
        flat[key] = value
    section: dict[str, Any] = {}
    for key, value in flat.items():
        group, _, name = key.rpartition(".")
        (section.setdefault(group, {}) if group else section)[name] = value
    return section


def base_variant(ckpt: Checkpoint) -> tuple[str, dict[str, Any]]:
    """The variant MODEL holds and its report: a pruned variant's prune report, or for a dense
    model the dense variant's report as the workflow writes it (`dense+lora` recovers it).
    A recovered model is refused (the workflow's variant names allow one `+lora`)."""
    report = ckpt.report or {}
    variant = report.get("variant", "dense")
    if variant.endswith(SUFFIX) or "recovery" in report:
        raise PrunebenchError(f"{ckpt.source} holds {variant}, already recovered with LoRA: "
                              "recover its base variant's folder instead")
    if variant != "dense" and report.get("method") != "dense":
        return variant, report
    from prunebench.modeling import load_config
    from prunebench.results import dense_report

    return "dense", dense_report(load_config(ckpt.path), model=ckpt.name, source=ckpt.source,
                                 checkpoint=ckpt.path)


def instruction_records(data: dict[str, Any]) -> list[dict[str, str]]:
    """The records the workflow's `instructions` rule writes for these data settings, kept in
    memory: embedded ones from the embedded train text made with the workflow's seed,
    Alpaca-cleaned from the hub."""
    from prunebench.instructions import make_records

    if data["source"] != "embedded":
        return make_records(data["source"])
    with tempfile.TemporaryDirectory() as scratch:
        train = embedded_text(Path(scratch)) / "train.txt"
        records = make_records("embedded", train, seed=data["seed"], n_recall=data["n_recall"])
    log.info("%d embedded instruction records", len(records))
    return records
