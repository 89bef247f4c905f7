# Calibration windows: n token windows of a given length from a named source, per model
# (windows are token ids, so they depend on the model's tokenizer).


rule calibration:
    input:
        unpack(calibration_inputs),
    output:
        "resources/data/calibration/{model}/{source}-{n}x{length}-seed{seed}.safetensors",
    log:
        "logs/calibration/{model}/{source}-{n}x{length}-seed{seed}.log",
    conda:
        "../envs/prunebench.yaml"
    script:
        "../scripts/calibration.py"
