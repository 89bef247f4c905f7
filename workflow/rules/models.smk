# Base models: the embedded tiny model (trained here on generated text), hub downloads and
# randomly initialised known architectures.


rule embedded_text:
    output:
        expand(layout.EMBEDDED_TEXT, split=["train", "validation", "test"]),
    log:
        "logs/embedded_text.log",
    conda:
        "../envs/prunebench.yaml"
    params:
        settings=canonical(config["embedded"]),
    script:
        "../scripts/embedded_text.py"


rule model:
    input:
        unpack(model_inputs),
    output:
        directory(layout.MODEL),
    log:
        "logs/model/{model}.log",
    conda:
        "../envs/prunebench.yaml"
    threads: workflow.cores
    resources:
        gpu=model_gpu,
    params:
        source=lambda wc: config["models"][wc.model]["source"],
        tiny=canonical(config["embedded"]["model"]),
    script:
        "../scripts/model.py"
