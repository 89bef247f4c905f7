"""Perplexity of one variant on each configured dataset, in fixed windows."""
from pathlib import Path

from prunebench import logs
from prunebench.atomic import read_json, write_json
from prunebench.evaluate import perplexity, token_stream
from prunebench.modeling import load_model, require_tokenizer, resolve_device
from prunebench.provenance import provenance
from prunebench.tiny import encode_text

log = logs.setup(snakemake.log[0])
wc, settings = snakemake.wildcards, snakemake.params.settings
device = resolve_device(snakemake.params.device)
model = load_model(snakemake.input.checkpoint, device=device, **snakemake.params.placement)
tokenizer = require_tokenizer(snakemake.input.checkpoint, "perplexity",
                              snakemake.config.get("trust_remote_code", False))

results, details = {}, {}
for dataset, text_file in zip(settings["datasets"], snakemake.input.texts):
    text = Path(text_file).read_text(encoding="utf-8")
    if dataset == "embedded":  # scored as the tiny model was trained: <s> paragraph </s>
        stream = encode_text(tokenizer, text)
    else:
        stream = token_stream(tokenizer, text, bos="first" if settings["bos"] == "first" else "none")
    bos_id = tokenizer.bos_token_id if settings["bos"] == "window" else None
    out = perplexity(model, stream, settings["window"], settings.get("stride"),
                     settings["batch_size"], settings.get("max_windows"), bos_id)
    results[dataset], details[dataset] = out["perplexity"], out
    log.info("%s: PPL %.3f over %d tokens", dataset, out["perplexity"], out["scored_tokens"])

write_json(snakemake.output[0], {
    "model": wc.model, "variant": wc.variant,
    "params": read_json(snakemake.input.report)["params_after"],
    "window": settings["window"], "stride": settings.get("stride") or settings["window"],
    "bos": settings["bos"], "perplexity": results, "details": details,
    "splits": {d: snakemake.params.splits[d] for d in settings["datasets"]},
    "provenance": provenance(device=device, cell={"model": wc.model, "variant": wc.variant,
                                                  **settings}),
})
