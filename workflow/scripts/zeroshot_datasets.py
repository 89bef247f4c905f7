"""Pre-fetch one lm-eval task's dataset (needs the network) into the project's cache."""
import os

from prunebench.hub import apply_hf_env

apply_hf_env(snakemake.params.hf_env)  # before datasets / huggingface_hub are imported

from prunebench import logs  # noqa: E402
from prunebench.atomic import write_json  # noqa: E402
from prunebench.provenance import provenance  # noqa: E402
from prunebench.zeroshot import prefetch  # noqa: E402

log = logs.setup(snakemake.log[0])
task = snakemake.wildcards.task
fetched = prefetch([task])[task]
record = provenance(cell={"task": task})
write_json(snakemake.output[0], {
    "task": task, "lm_eval_version": record["versions"]["lm_eval"], **fetched,
    "cache": {k: os.environ[k] for k in snakemake.params.hf_env if k.endswith("_CACHE")},
    "provenance": record,
})
log.info("%s: datasets %s cached", task, fetched["datasets"])
