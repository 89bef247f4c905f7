"""Prune one model to one target size with one method; save the checkpoint and its report."""
from prunebench import logs
from prunebench.atomic import write_json
from prunebench.data import load_windows
from prunebench.pruning import prune_checkpoint
from prunebench.results import prune_report

log = logs.setup(snakemake.log[0])
wc, settings = snakemake.wildcards, snakemake.params.settings
# A data-free method (Mag+) gets no calibration input from the rule, and reports none.
windows = load_windows(snakemake.input.calibration)[0] if snakemake.input.calibration else None
report = prune_checkpoint(snakemake.input.model, settings["method"], settings["size"],
                          snakemake.output.checkpoint, windows, settings["params"],
                          device=snakemake.params.device,
                          trust_remote_code=snakemake.config.get("trust_remote_code", False),
                          placement=snakemake.params.placement)
write_json(snakemake.output.report, prune_report(
    report, model=wc.model, variant=wc.variant, checkpoint=snakemake.output.checkpoint,
    calibration=settings["calibration"] if windows is not None else None,
    cell={"model": wc.model, "source": snakemake.params.source, "variant": wc.variant,
          **settings}))
log.info("%s: %s -> %s params", wc.variant, f"{report['params_before']:,}",
         f"{report['params_after']:,}")
