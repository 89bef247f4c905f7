"""One generation benchmark cell: a batch-size sweep for one variant, backend and token config."""
from pathlib import Path

from prunebench import logs
from prunebench.atomic import read_json, write_json
from prunebench.benchmark import run_sweep
from prunebench.modeling import load_model, load_tokenizer, resolve_device, resolve_dtype

log = logs.setup(snakemake.log[0])
wc, settings = snakemake.wildcards, snakemake.params.settings
device = resolve_device(snakemake.params.device)
dtype = settings["dtype"]
if dtype == "auto":  # the study's fp16 on GPU; CPUs have no fast fp16 matmul
    dtype = "float16" if device.type == "cuda" else "float32"
model = load_model(snakemake.input.checkpoint, device=device, dtype=resolve_dtype(dtype))
tokenizer = load_tokenizer(snakemake.input.checkpoint, snakemake.config.get("trust_remote_code", False))
output = Path(snakemake.output[0])
# Finished batch sizes are kept here while the sweep runs, so a crashed or pre-empted job
# resumes where it stopped; Snakemake does not own (or delete) this file.
partial = output.with_name(f".{output.stem}.unfinished.json")
cell = {"model": wc.model, "source": snakemake.params.source, "variant": wc.variant,
        "backend": wc.backend, "input_tokens": int(wc.lin), "output_tokens": int(wc.lout),
        **settings, "dtype": dtype}
result = run_sweep(model, tokenizer, input_tokens=int(wc.lin), output_tokens=int(wc.lout),
                   batch_sizes=settings["batch_sizes"], warmup=settings["warmup"],
                   repeats=settings["repeats"], max_repeats=settings["max_repeats"],
                   max_seconds=settings["max_seconds"], ci_target=settings["ci_target"],
                   backend=wc.backend, device=device, dtype=dtype,
                   attention=settings["attention"], seed=settings["seed"],
                   compile_mode=settings.get("compile_mode", "auto"),
                   sampling=settings.get("sampling", False),
                   model_name=wc.model, variant=wc.variant, cell=cell, partial_path=partial)
result["params"] = read_json(snakemake.input.report)["params_after"]
write_json(output, result)
partial.unlink(missing_ok=True)
