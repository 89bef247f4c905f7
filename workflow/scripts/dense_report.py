"""The dense variant: no pruning, only its report (size and blocks from the config alone:
prunebench.results.dense_report)."""
from prunebench import logs
from prunebench.atomic import write_json
from prunebench.modeling import load_config
from prunebench.results import dense_report

log = logs.setup(snakemake.log[0])
report = dense_report(load_config(snakemake.input.model), model=snakemake.wildcards.model,
                     source=snakemake.params.source, checkpoint=snakemake.input.model)
write_json(snakemake.output.report, report)
log.info("dense model: %s params, %d blocks", f"{report['params_after']:,}",
         report["blocks_after"])
