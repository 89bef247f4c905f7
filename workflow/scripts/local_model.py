"""Import a model from a folder on disk (`local:<folder>`) into resources/models/<name>/."""
from prunebench import logs
from prunebench.checkpoint.local_import import import_local

log = logs.setup(snakemake.log[0])
# From the config, not a param (rules/models.smk); a relative path is read from the directory
# the workflow runs in, which is this job's too.
import_local(snakemake.config["models"][snakemake.wildcards.model]["source"], snakemake.output[0])
