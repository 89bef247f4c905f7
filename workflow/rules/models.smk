# Base models: the embedded tiny model (trained here on generated text), hub downloads,
# randomly initialised known architectures, and folders on disk (local_model).


rule embedded_text:
    output:
        expand(layout.EMBEDDED_TEXT, split=["train", "validation", "test"]),
    log:
        "logs/embedded_text.log",
    # seconds of work: not worth a cluster's queue
    localrule: True
    conda:
        "../envs/prunebench.yaml"
    params:
        settings=embedded_text_settings(),
    script:
        "../scripts/embedded_text.py"


rule model:
    input:
        unpack(model_inputs),
    output:
        directory(layout.MODEL),
    log:
        "logs/model/{model}.log",
    wildcard_constraints:
        model=model_names_pattern(local=False),
    conda:
        "../envs/prunebench.yaml"
    threads: workflow.cores
    resources:
        gpu=model_gpu,
        mem_mb=job_mem_mb("model"),
        runtime=job_runtime("model"),
    params:
        source=lambda wc: config["models"][wc.model]["source"],
        tiny=tiny_model_settings,
    script:
        "../scripts/model.py"


# A `local:<folder>` model is imported (copied, its manifest written) instead: a rule of its own,
# with the folder's files as parameters, so a changed file re-imports it. Its path is no
# parameter: the job reads it from the config, so a folder moved (or mounted elsewhere) with
# the same files reruns nothing.
rule local_model:
    output:
        directory(layout.MODEL),
    log:
        "logs/model/{model}.log",
    wildcard_constraints:
        model=model_names_pattern(local=True),
    conda:
        "../envs/prunebench.yaml"
    resources:
        mem_mb=job_mem_mb("model"),  # the model rule's rate: copies, pickles converted
        runtime=job_runtime("model"),
    params:
        files=local_folder_state,
    script:
        "../scripts/local_model.py"
