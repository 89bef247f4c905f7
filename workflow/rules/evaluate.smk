# Quality: perplexity of every variant on held-out text in fixed windows.


def evaluation_inputs(wildcards):
    inputs = {
        "checkpoint": checkpoint_dir(wildcards.model, wildcards.variant),
        "report": f"results/pruned/{wildcards.model}/{wildcards.variant}/prune_report.json",
    }
    if "embedded" in config["evaluation"]["perplexity"]["datasets"]:
        inputs["text"] = "resources/data/embedded/test.txt"
    return inputs


rule perplexity:
    input:
        unpack(evaluation_inputs),
    output:
        "results/eval/{model}/{variant}/ppl.json",
    params:
        settings=config["evaluation"]["perplexity"],
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
