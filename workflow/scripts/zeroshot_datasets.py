"""Pre-fetch one lm-eval task's dataset (needs the network) into the project's cache."""
import os
from pathlib import Path

# Before datasets / huggingface_hub are imported: they read these once, at import.
os.environ.update({k: str(Path(v).resolve()) if k.endswith("_CACHE") else v
                   for k, v in snakemake.params.hf_env.items()})

from prunebench import logs  # noqa: E402
from prunebench.atomic import write_json  # noqa: E402
from prunebench.provenance import provenance  # noqa: E402
from prunebench.zeroshot import lm_eval_version, prefetch  # noqa: E402

log = logs.setup(snakemake.log[0])
task = snakemake.wildcards.task
fetched = prefetch([task])[task]
write_json(snakemake.output[0], {
    "task": task, "lm_eval_version": lm_eval_version(), **fetched,
    "cache": {k: os.environ[k] for k in snakemake.params.hf_env if k.endswith("_CACHE")},
    "provenance": provenance(cell={"task": task}),
})
log.info("%s: datasets %s cached", task, fetched["datasets"])
