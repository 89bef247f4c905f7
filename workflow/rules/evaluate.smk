# Quality: perplexity in fixed windows and zero-shot accuracy (lm-eval) of every variant.


rule text:
    output:
        "resources/data/text/{dataset}/{split}.txt",
    wildcard_constraints:
        dataset="|".join(HUB_TEXTS),
    conda:
        "../../envs/prunebench.yaml"
    log:
        "logs/text/{dataset}-{split}.log",
    script:
        "../scripts/text.py"


def evaluation_inputs(wildcards):
    datasets = config["evaluation"]["perplexity"]["datasets"]
    return {**variant_inputs(wildcards), "texts": [eval_text_file(d) for d in datasets]}


rule perplexity:
    input:
        unpack(evaluation_inputs),
    output:
        "results/eval/{model}/{variant}/ppl.json",
    params:
        settings=canonical(config["evaluation"]["perplexity"]),
        splits=EVAL_SPLITS,
        device=config["device"],
        placement=lambda wc: placement(wc.model),
    threads: workflow.cores
    resources:
        gpu=GPU_JOB,
        mem_mb=job_mem_mb("perplexity"),
        runtime=job_runtime("perplexity"),
    conda:
        "../../envs/prunebench.yaml"
    log:
        "logs/eval/{model}/{variant}/ppl.log",
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
    params:
        settings=lambda wc: canonical(zeroshot_config().get("suite", {})),
    log:
        "logs/mc_suite.log",
    conda:
        "../../envs/prunebench.yaml"
    script:
        "../scripts/mc_suite.py"


# Run where the hub is reachable (part of `snakemake prefetch`): lm-eval builds the task, which
# downloads its dataset into the project's cache; the file records what was fetched.
rule zeroshot_datasets:
    output:
        f"{LM_EVAL_DATA}/{{task}}.json",
    wildcard_constraints:
        task=r"[A-Za-z0-9_.-]+",
    params:
        hf_env=lambda wc: hf_cache_env(offline=False),
    log:
        "logs/zeroshot_datasets/{task}.log",
    conda:
        "../../envs/prunebench.yaml"
    script:
        "../scripts/zeroshot_datasets.py"


def zeroshot_inputs(wildcards):
    tasks = zeroshot_config()["tasks"]
    inputs = {**variant_inputs(wildcards),
              "prefetched": [f"{LM_EVAL_DATA}/{t}.json" for t in hub_tasks(tasks)]}
    if suite_tasks(tasks):
        inputs["suite"] = f"{MC_SUITE}/suite.json"
    return inputs


rule zeroshot:
    input:
        unpack(zeroshot_inputs),
    output:
        summary="results/eval/{model}/{variant}/zeroshot.json",
        lm_eval="results/eval/{model}/{variant}/lm_eval.json",
    params:
        # Only what changes the scores; the suite's own settings reach it through its files.
        settings=lambda wc: canonical({k: v for k, v in zeroshot_config().items() if k != "suite"}),
        # Evaluation never touches the network: hub datasets come from the pre-fetched cache.
        hf_env=lambda wc: hf_cache_env(offline=True),
        device=config["device"],
        placement=lambda wc: placement(wc.model),
    threads: workflow.cores
    resources:
        gpu=GPU_JOB,
        mem_mb=job_mem_mb("zeroshot"),
        runtime=job_runtime("zeroshot"),
    conda:
        "../../envs/prunebench.yaml"
    log:
        "logs/eval/{model}/{variant}/zeroshot.log",
    script:
        "../scripts/zeroshot.py"
