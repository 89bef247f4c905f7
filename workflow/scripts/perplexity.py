"""Perplexity of one variant on each configured dataset, in fixed windows."""
from pathlib import Path

from prunebench import logs
from prunebench.atomic import read_json, write_json
from prunebench.data import load_text
from prunebench.evaluate import perplexity, token_stream
from prunebench.modeling import load_model, load_tokenizer
from prunebench.pruning import pick_device
from prunebench.provenance import provenance

log = logs.setup(snakemake.log[0])
settings = snakemake.params.settings
device = pick_device(snakemake.params.device)
model = load_model(snakemake.input.checkpoint, device=device)
tokenizer = load_tokenizer(snakemake.input.checkpoint)
embedded_dir = Path(snakemake.input.text).parent if "text" in snakemake.input.keys() else None
split = {"embedded": "test", "wikitext2": "test", "ptb": "validation"}

results, details = {}, {}
for dataset in settings["datasets"]:
    stream = token_stream(tokenizer, load_text(dataset, split.get(dataset, "test"), embedded_dir),
                          bos="first" if settings["bos"] == "first" else "none")
    bos_id = tokenizer.bos_token_id if settings["bos"] == "window" else None
    out = perplexity(model, stream, settings["window"], settings.get("stride"),
                     settings["batch_size"], settings.get("max_windows"), bos_id)
    results[dataset], details[dataset] = out["perplexity"], out
    log.info("%s: PPL %.3f over %d tokens", dataset, out["perplexity"], out["scored_tokens"])

write_json(snakemake.output[0], {
    "model": snakemake.wildcards.model, "variant": snakemake.wildcards.variant,
    "params": read_json(snakemake.input.report)["params_after"],
    "window": settings["window"], "stride": settings.get("stride") or settings["window"],
    "bos": settings["bos"], "perplexity": results, "details": details,
    "splits": {d: split.get(d, "test") for d in settings["datasets"]},
    "provenance": provenance(device=device, cell={"model": snakemake.wildcards.model,
                                                  "variant": snakemake.wildcards.variant,
                                                  **settings}),
})
