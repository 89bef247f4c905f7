"""Copy one split of a text of your own (the config's `texts`) into the run."""
from prunebench import logs
from prunebench.local_text import prepare, source_file

log = logs.setup(snakemake.log[0])
wc, out = snakemake.wildcards, snakemake.output
# From the config, not a param (rules/evaluate.smk): a moved file reruns nothing; a relative
# path is read from the directory the workflow runs in, which is this job's too.
text = snakemake.config["texts"][wc.dataset]
origin = prepare(source_file(text[wc.split]), snakemake.params.field, out.rows, out.text,
                 out.origin)
log.info("text %s (%s): %d rows, %d bytes from %s (sha256 %s)", wc.dataset, wc.split,
         origin["rows"], origin["bytes"], origin["file"], origin["sha256"])
