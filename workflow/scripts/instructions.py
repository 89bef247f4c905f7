"""Write the instruction records LoRA recovery trains on (embedded: made here; alpaca: hub)."""
from prunebench import logs
from prunebench.instructions import make_records, write_records

log = logs.setup(snakemake.log[0])
settings = snakemake.params.settings
records = make_records(snakemake.wildcards.source, snakemake.input.get("train_text"),
                       seed=settings.get("seed", 0), n_recall=settings.get("n_recall"))
n = write_records(snakemake.output[0], records)
log.info("%d %s instruction records written to %s", n, snakemake.wildcards.source,
         snakemake.output[0])
