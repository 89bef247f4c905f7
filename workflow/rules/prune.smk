# Pruning: one cell per model x variant. The dense variant keeps the base checkpoint and only
# gets a report, so 13B weights are never copied.


rule dense_report:
    input:
        model=lambda wc: model_dir(wc.model),
    output:
        report=fill(layout.PRUNE_REPORT, variant="dense"),
    log:
        "logs/prune/{model}/dense.log",
    # a JSON from config.json: not worth a cluster's queue
    localrule: True
    conda:
        "../envs/prunebench.yaml"
    params:
        source=lambda wc: model_source(wc.model),
    script:
        "../scripts/dense_report.py"


rule prune:
    input:
        model=lambda wc: model_dir(wc.model),
        calibration=lambda wc: calibration_input(wc.model, wc.variant),
    output:
        checkpoint=directory(layout.CHECKPOINT),
        report=layout.PRUNE_REPORT,
    log:
        "logs/prune/{model}/{variant}.log",
    wildcard_constraints:
        variant=r"[a-z0-9_]+-[A-Za-z0-9_.%]+",
    conda:
        "../envs/prunebench.yaml"
    threads: workflow.cores
    resources:
        gpu=placed_gpu_job,
        mem_mb=job_mem_mb("prune"),
        runtime=job_runtime("prune"),
    params:
        source=lambda wc: model_source(wc.model),
        settings=lambda wc: prune_settings(wc.model, wc.variant),
        device=config["device"],
        placement=lambda wc: placement(wc.model),
    script:
        "../scripts/prune.py"
