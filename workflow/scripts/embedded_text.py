"""Write the embedded text (train / validation / test) that the default model learns from."""
from pathlib import Path

from prunebench import logs
from prunebench.corpus import write_corpus

log = logs.setup(snakemake.log[0])
out_dir = Path(snakemake.output[0]).parent
write_corpus(out_dir, seed=snakemake.params.settings["seed"])
log.info("embedded text written to %s", out_dir)
