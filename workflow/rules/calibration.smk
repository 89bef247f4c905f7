# Calibration windows: n token windows of a given length from a named source, per model
# (windows are token ids, so they depend on the model's tokenizer).


def calibration_inputs(wildcards):
    inputs = {"model": model_dir(wildcards.model)}
    if wildcards.source == "embedded":
        inputs["text"] = "resources/data/embedded/train.txt"
    return inputs


rule calibration:
    input:
        unpack(calibration_inputs),
    output:
        "resources/data/calibration/{model}/{source}-{n}x{length}-seed{seed}.safetensors",
    conda:
        "../../envs/prunebench.yaml"
    log:
        "logs/calibration/{model}/{source}-{n}x{length}-seed{seed}.log",
    script:
        "../scripts/calibration.py"
