"""Generate the offline zero-shot suite (lm-eval task YAMLs over JSONL) from the held-out text."""
from pathlib import Path

from prunebench import logs
from prunebench.mc_suite import write_suite

log = logs.setup(snakemake.log[0])
settings = snakemake.params.settings
out_dir = write_suite(snakemake.input[0], Path(snakemake.output[-1]).parent,
                      n=settings["items"], seed=settings["seed"],
                      context_sentences=settings["context_sentences"])
log.info("offline zero-shot suite written to %s", out_dir)
