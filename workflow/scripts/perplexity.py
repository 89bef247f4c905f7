"""Perplexity of one variant on each configured dataset, in fixed windows."""
from pathlib import Path

from prunebench import logs
from prunebench.atomic import read_json, write_json
from prunebench.evaluate import perplexities
from prunebench.modeling import load_model, require_tokenizer, resolve_device
from prunebench.plan.variants import job_settings
from prunebench.results import perplexity_result

log = logs.setup(snakemake.log[0])
wc = snakemake.wildcards
# the params' settings, and the memory-only ones from the run's config (MEMORY_ONLY)
settings = job_settings(snakemake.config, "perplexity", snakemake.params.settings)
device = resolve_device(snakemake.params.device)
model = load_model(snakemake.input.checkpoint, device=device, **snakemake.params.placement)
tokenizer = require_tokenizer(snakemake.input.checkpoint, "perplexity",
                              snakemake.config.get("trust_remote_code", False))
texts = {dataset: Path(file).read_text(encoding="utf-8")
         for dataset, file in zip(settings["datasets"], snakemake.input.texts)}
write_json(snakemake.output[0], perplexity_result(
    perplexities(model, tokenizer, texts, settings), model=wc.model, variant=wc.variant,
    params=read_json(snakemake.input.report)["params_after"], settings=settings,
    splits=snakemake.params.splits, device=device,
    cell={"model": wc.model, "source": snakemake.params.source, "variant": wc.variant,
          **settings}))
