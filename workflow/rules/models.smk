# Base models: the embedded tiny model (trained here on generated text), hub downloads and
# randomly initialised known architectures.


rule embedded_text:
    output:
        expand("resources/data/embedded/{split}.txt", split=["train", "validation", "test"]),
    params:
        settings=config["embedded"],
    conda:
        "../../envs/prunebench.yaml"
    log:
        "logs/embedded_text.log",
    script:
        "../scripts/embedded_text.py"


def model_inputs(wildcards):
    """The tiny model trains on the embedded text; random models take its tokenizer."""
    source = config["models"][wildcards.model]["source"]
    if source == "tiny" or source.startswith("random:"):
        return {"train_text": "resources/data/embedded/train.txt"}
    return {}


rule model:
    input:
        unpack(model_inputs),
    output:
        directory("resources/models/{model}"),
    params:
        source=lambda wc: config["models"][wc.model]["source"],
        tiny=config["embedded"]["model"],
    threads: workflow.cores
    conda:
        "../../envs/prunebench.yaml"
    log:
        "logs/model/{model}.log",
    script:
        "../scripts/model.py"
