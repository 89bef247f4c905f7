"""A pruned variant and its dense model timed in turns: its speed-up, pair by pair."""
from pathlib import Path

from prunebench import logs
from prunebench.atomic import read_json, write_json
from prunebench.benchmark import dtype_name, run_paired
from prunebench.modeling import load_model, load_tokenizer, resolve_device, resolve_dtype

log = logs.setup(snakemake.log[0])
wc, settings = snakemake.wildcards, snakemake.params.settings
device = resolve_device(snakemake.params.device)
# auto: the study's float16 on a GPU, float32 on a CPU (no fast float16 matmul there)
dtype = dtype_name(resolve_dtype(settings["dtype"], device))
models = [load_model(path, device=device, dtype=resolve_dtype(dtype))
          for path in (snakemake.input.dense, snakemake.input.checkpoint)]
tokenizer = load_tokenizer(snakemake.input.dense, snakemake.config.get("trust_remote_code", False))
output = Path(snakemake.output[0])
# Finished batch sizes are kept here while the job runs, so an interrupted one resumes.
partial = output.with_name(f".{output.stem}.unfinished.json")
cell = {"model": wc.model, "source": snakemake.params.source, "variant": wc.variant,
        "backend": wc.backend, "input_tokens": int(wc.lin), "output_tokens": int(wc.lout),
        **settings, "dtype": dtype}
result = run_paired(*models, tokenizer, input_tokens=int(wc.lin), output_tokens=int(wc.lout),
                    batch_sizes=settings["batch_sizes"], warmup=settings["warmup"],
                    repeats=settings["pairs"], backend=wc.backend, device=device, dtype=dtype,
                    attention=settings["attention"], seed=settings["seed"],
                    compile_mode=settings.get("compile_mode", "auto"),
                    sampling=settings.get("sampling", False),
                    model_name=wc.model, variant=wc.variant, cell=cell, partial_path=partial)
# The sizes as the prune reports count them (the sweep's rows do the same).
result["dense_params"] = read_json(snakemake.input.dense_report)["params_after"]
result["params"] = read_json(snakemake.input.report)["params_after"]
write_json(output, result)
partial.unlink(missing_ok=True)
