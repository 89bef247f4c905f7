# Calibration windows: n token windows of a given length from a named source, per model
# (windows are token ids, so they depend on the model's tokenizer); {sampling} is empty or
# "-<sampling>" (common.smk: calibration_file).


rule calibration:
    input:
        unpack(calibration_inputs),
    output:
        layout.CALIBRATION,
    log:
        "logs/calibration/{model}/{source}-{n}x{length}-seed{seed}{sampling}.log",
    conda:
        "../envs/prunebench.yaml"
    resources:
        mem_mb=calibration_mem_mb,
    script:
        "../scripts/calibration.py"
