"""Recover one variant with LoRA; its report is the base variant's plus a `recovery` section."""
from prunebench import logs
from prunebench.atomic import read_json, write_json
from prunebench.instructions import read_records
from prunebench.lora import recover_checkpoint
from prunebench.provenance import provenance

log = logs.setup(snakemake.log[0])
wc, settings = snakemake.wildcards, snakemake.params.settings
variant = f"{wc.base}+lora"
base_report = read_json(snakemake.input.report)
recovery = recover_checkpoint(snakemake.input.checkpoint, snakemake.output.checkpoint,
                              read_records(snakemake.input.data), settings,
                              device=snakemake.params.device)
cell = {"model": wc.model, "variant": variant, "base_variant": wc.base, "lora": settings}
recovery["provenance"] = provenance(device=recovery["device"], seed=settings["seed"], cell=cell)
# Params, blocks and method stay the base variant's (merging adds no parameters), so the tables
# place the recovered variant beside its base; the base's own provenance stays in `base_report`.
write_json(snakemake.output.report, {
    **{k: v for k, v in base_report.items() if k != "provenance"},
    "variant": variant, "base_variant": wc.base, "checkpoint": snakemake.output.checkpoint,
    "recovery": recovery, "base_provenance": base_report.get("provenance"),
    "provenance": recovery["provenance"],
})
log.info("%s: validation loss %.4f -> %.4f (best step %d)", variant,
         recovery["initial_val_loss"], recovery["best_val_loss"], recovery["best_step"])
