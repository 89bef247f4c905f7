# Quality: perplexity in fixed windows and zero-shot accuracy (lm-eval) of every variant.


rule text:
    output:
        layout.HUB_TEXT,
    log:
        "logs/text/{dataset}-{split}.log",
    wildcard_constraints:
        dataset="|".join(HUB_TEXTS),
    # a small download: run where Snakemake runs (a login node reaches the hub)
    localrule: True
    conda:
        "../envs/prunebench.yaml"
    params:
        # how the rows are joined into one text: a change must redo the file
        joiner=lambda wc: HUB_TEXTS[wc.dataset].joiner,
    script:
        "../scripts/text.py"


# A text of your own (the config's `texts`): each split copied into the run once, as its rows
# (calibration draws from them), the text perplexity scores, and where it came from. The file
# is no input: only a change of its content (`file`) copies it again, as for a local: model.
rule local_text:
    output:
        text=layout.HUB_TEXT,
        rows=layout.LOCAL_TEXT_ROWS,
        origin=layout.LOCAL_TEXT_ORIGIN,
    log:
        "logs/text/{dataset}-{split}.log",
    wildcard_constraints:
        dataset="|".join(re.escape(t) for t in own_texts()) or "(?!)",
        split="|".join(local_text.SPLITS),
    localrule: True
    conda:
        "../envs/prunebench.yaml"
    params:
        file=own_text_state,
        # a .jsonl file's field; the default for a plain text file (a field set for the other
        # split must not copy it again)
        field=lambda wc: local_text.split_field(own_texts()[wc.dataset], wc.split),
    script:
        "../scripts/local_text.py"


rule perplexity:
    input:
        unpack(evaluation_inputs),
    output:
        layout.PPL,
    log:
        "logs/eval/{model}/{variant}/ppl.log",
    conda:
        "../envs/prunebench.yaml"
    threads: workflow.cores
    resources:
        gpu=placed_gpu_job,
        mem_mb=job_mem_mb("perplexity"),
        runtime=job_runtime("perplexity"),
    params:
        source=lambda wc: model_source(wc.model),
        # what decides the perplexity; batch_size reaches the job from the config (MEMORY_ONLY)
        settings=variants.rerun_settings(config, "perplexity"),
        splits=eval_splits(),
        device=config["device"],
        # load_model's arguments: device map, memory caps, and evaluation.perplexity.dtype
        placement=lambda wc: evaluation_loading(wc.model, "perplexity"),
    script:
        "../scripts/perplexity.py"


# Zero-shot accuracy through lm-eval: the offline suite (generated from the embedded held-out
# text) and/or lm-eval's hub tasks, whose datasets are pre-fetched by zeroshot_datasets.


rule mc_suite:
    input:
        f"{EMBEDDED}/test.txt",
    output:
        expand(f"{MC_SUITE}/{{task}}.{{ext}}", task=SUITE_TASKS, ext=["yaml", "jsonl"]),
        f"{MC_SUITE}/suite.json",
    log:
        "logs/mc_suite.log",
    # seconds of work: not worth a cluster's queue
    localrule: True
    conda:
        "../envs/prunebench.yaml"
    params:
        settings=lambda wc: canonical(zeroshot_config().get("suite", {})),
    script:
        "../scripts/mc_suite.py"


# Run where the hub is reachable (part of `snakemake prefetch`): lm-eval builds the task, which
# downloads its dataset into the project's cache; the file records what was fetched.
rule zeroshot_datasets:
    output:
        f"{LM_EVAL_DATA}/{{task}}.json",
    log:
        "logs/zeroshot_datasets/{task}.log",
    wildcard_constraints:
        task=r"[A-Za-z0-9_.-]+",
    # a download: run where Snakemake runs (a login node reaches the hub)
    localrule: True
    conda:
        "../envs/prunebench.yaml"
    params:
        hf_env=lambda wc: hf_cache_env(offline=False),
    script:
        "../scripts/zeroshot_datasets.py"


rule zeroshot:
    input:
        unpack(zeroshot_inputs),
    output:
        summary=layout.ZEROSHOT,
        lm_eval=layout.LM_EVAL,
    log:
        "logs/eval/{model}/{variant}/zeroshot.log",
    conda:
        "../envs/prunebench.yaml"
    threads: workflow.cores
    resources:
        gpu=placed_gpu_job,
        mem_mb=job_mem_mb("zeroshot"),
        runtime=job_runtime("zeroshot"),
    params:
        source=lambda wc: model_source(wc.model),
        # Only what changes the scores: the suite's own settings reach it through its files,
        # batch_size from the config (prunebench.plan.variants.MEMORY_ONLY).
        settings=lambda wc: variants.rerun_settings(config, "zeroshot"),
        # Evaluation never touches the network: hub datasets come from the pre-fetched cache.
        hf_env=lambda wc: hf_cache_env(offline=True),
        device=config["device"],
        # load_model's arguments: device map, memory caps, and evaluation.zeroshot.dtype
        placement=lambda wc: evaluation_loading(wc.model, "zeroshot"),
    script:
        "../scripts/zeroshot.py"
