# Quality: perplexity of every variant on held-out text in fixed windows.


rule text:
    output:
        "resources/data/text/{dataset}/{split}.txt",
    wildcard_constraints:
        dataset=r"wikitext2|ptb|bookcorpus|c4",
    conda:
        "../../envs/prunebench.yaml"
    log:
        "logs/text/{dataset}-{split}.log",
    script:
        "../scripts/text.py"


def evaluation_inputs(wildcards):
    datasets = config["evaluation"]["perplexity"]["datasets"]
    return {
        "checkpoint": checkpoint_dir(wildcards.model, wildcards.variant),
        "report": f"results/pruned/{wildcards.model}/{wildcards.variant}/prune_report.json",
        "texts": [eval_text_file(d) for d in datasets],
    }


rule perplexity:
    input:
        unpack(evaluation_inputs),
    output:
        "results/eval/{model}/{variant}/ppl.json",
    params:
        settings=config["evaluation"]["perplexity"],
        splits=EVAL_SPLITS,
        device=config["device"],
    threads: workflow.cores
    resources:
        gpu=1 if config["device"] != "cpu" else 0,
    conda:
        "../../envs/prunebench.yaml"
    log:
        "logs/eval/{model}/{variant}/ppl.log",
    script:
        "../scripts/perplexity.py"
