"""Prune one model to one target size with one method; save the checkpoint and its report."""
from prunebench import logs
from prunebench.atomic import write_json
from prunebench.data import load_windows
from prunebench.pruning import prune_checkpoint
from prunebench.provenance import provenance

log = logs.setup(snakemake.log[0])
settings = snakemake.params.settings
# A data-free method (Mag+) gets no calibration input from the rule, and reports none.
windows = load_windows(snakemake.input.calibration)[0] if snakemake.input.calibration else None
report = prune_checkpoint(snakemake.input.model, settings["method"], settings["size"],
                          snakemake.output.checkpoint, windows, settings["params"],
                          device=snakemake.params.device,
                          trust_remote_code=snakemake.config.get("trust_remote_code", False),
                          placement=snakemake.params.placement)
write_json(snakemake.output.report, {
    "model": snakemake.wildcards.model, "variant": snakemake.wildcards.variant, **report,
    "calibration": settings["calibration"] if windows is not None else None,
    "checkpoint": snakemake.output.checkpoint,
    "provenance": provenance(device=report["device"], seed=settings["calibration"]["seed"],
                             cell={"model": snakemake.wildcards.model, **settings}),
})
log.info("%s: %s -> %s params", snakemake.wildcards.variant, f"{report['params_before']:,}",
         f"{report['params_after']:,}")
