"""The dense variant: no pruning, only its report (size from the config alone)."""
from prunebench import logs
from prunebench.atomic import write_json
from prunebench.modeling import count_params, load_config
from prunebench.provenance import provenance

log = logs.setup(snakemake.log[0])
config = load_config(snakemake.input.model)
params = count_params(config)
write_json(snakemake.output.report, {
    "model": snakemake.wildcards.model, "variant": "dense", "method": "dense", "target": None,
    "target_params": params, "params_before": params, "params_after": params,
    "blocks_before": config.num_hidden_layers, "blocks_after": config.num_hidden_layers,
    "checkpoint": snakemake.input.model,
    "provenance": provenance(cell={"model": snakemake.wildcards.model,
                                   "source": snakemake.params.source, "variant": "dense"}),
})
log.info("dense model: %s params", f"{params:,}")
