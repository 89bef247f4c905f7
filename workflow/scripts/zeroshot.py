"""Zero-shot accuracy of one variant through lm-eval (HFLM around the loaded model)."""
from prunebench.hub import apply_hf_env

apply_hf_env(snakemake.params.hf_env)  # before datasets / huggingface_hub are imported

import time  # noqa: E402
from pathlib import Path  # noqa: E402

from prunebench import logs  # noqa: E402
from prunebench.atomic import read_json, write_json  # noqa: E402
from prunebench.modeling import load_model, require_tokenizer, resolve_device  # noqa: E402
from prunebench.plan.variants import job_settings  # noqa: E402
from prunebench.results import zeroshot_results  # noqa: E402
from prunebench.zeroshot import evaluate, evaluation_arguments  # noqa: E402

log = logs.setup(snakemake.log[0])
wc = snakemake.wildcards
# the params' settings, and the memory-only ones from the run's config (MEMORY_ONLY)
settings = job_settings(snakemake.config, "zeroshot", snakemake.params.settings)
tasks = settings["tasks"]
device = resolve_device(snakemake.params.device)
model = load_model(snakemake.input.checkpoint, device=device, **snakemake.params.placement)
tokenizer = require_tokenizer(snakemake.input.checkpoint, "zero-shot evaluation",
                              snakemake.config.get("trust_remote_code", False))
suite_json = snakemake.input.get("suite")  # there when a task of the offline suite is asked for
suite = str(Path(suite_json).parent) if suite_json else None

started = time.perf_counter()
out = evaluate(model, tokenizer, tasks, include_path=suite, **evaluation_arguments(settings))
elapsed = time.perf_counter() - started
summary = out["summary"]
for task in tasks:
    log.info("%s: %s %.4f", task, summary["metric"][task], summary["accuracy"][task])
log.info("average %.4f over %d tasks in %.1f s", summary["average"], len(tasks), elapsed)

zeroshot_json, lm_eval_json = zeroshot_results(
    out, model=wc.model, variant=wc.variant,
    params=read_json(snakemake.input.report)["params_after"], settings=settings,
    suite=read_json(suite_json) if suite_json else None, elapsed_s=elapsed, device=device,
    cell={"model": wc.model, "source": snakemake.params.source, "variant": wc.variant,
          **settings})
write_json(snakemake.output.lm_eval, lm_eval_json)
write_json(snakemake.output.summary, zeroshot_json)
