"""Import a model from a folder on disk (`local:<folder>`) into resources/models/<name>/."""
from prunebench import logs
from prunebench.checkpoint.local_import import import_local

log = logs.setup(snakemake.log[0])
import_local(snakemake.params.source, snakemake.output[0], snakemake.params.folder)
