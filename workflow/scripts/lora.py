"""Recover one variant with LoRA; its report is the base variant's plus a `recovery` section."""
from prunebench import logs
from prunebench.atomic import read_json, write_json
from prunebench.instructions import read_records
from prunebench.lora import recover_checkpoint
from prunebench.plan.variants import job_settings
from prunebench.results import recovered_report

log = logs.setup(snakemake.log[0])
wc = snakemake.wildcards
# the params' settings, and the memory-only ones from the run's config (MEMORY_ONLY)
settings = job_settings(snakemake.config, "lora", snakemake.params.settings)
variant = f"{wc.base}+lora"
recovery = recover_checkpoint(snakemake.input.checkpoint, snakemake.output.checkpoint,
                              read_records(snakemake.input.data), settings,
                              device=snakemake.params.device,
                              trust_remote_code=snakemake.config.get("trust_remote_code", False))
write_json(snakemake.output.report, recovered_report(
    read_json(snakemake.input.report), recovery, variant=variant, base=wc.base,
    checkpoint=snakemake.output.checkpoint, settings=settings,
    cell={"model": wc.model, "source": snakemake.params.source, "variant": variant,
          "base_variant": wc.base, "lora": settings}))
log.info("%s: validation loss %.4f -> %.4f (best step %d)", variant,
         recovery["initial_val_loss"], recovery["best_val_loss"], recovery["best_step"])
