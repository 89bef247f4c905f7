"""Save a hub dataset's split as plain text, so evaluation jobs never need the network."""
from prunebench import logs
from prunebench.atomic import write_text
from prunebench.data import load_text

log = logs.setup(snakemake.log[0])
wc = snakemake.wildcards
text = load_text(wc.dataset, wc.split)
write_text(snakemake.output[0], text)
log.info("%s %s: %d characters", wc.dataset, wc.split, len(text))
