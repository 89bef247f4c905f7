# Generation benchmarks: one batch-size sweep per model x variant x backend x token config.
# A benchmark takes every core and the GPU so that no other job disturbs its timings.


rule benchmark:
    input:
        checkpoint=lambda wc: checkpoint_dir(wc.model, wc.variant),
        report=layout.PRUNE_REPORT,
    output:
        layout.BENCH,
    log:
        "logs/bench/{model}/{variant}/{backend}/{lin}x{lout}.log",
    conda:
        "../envs/prunebench.yaml"
    threads: workflow.cores
    resources:
        gpu=GPU_JOB,
        mem_mb=job_mem_mb("benchmark"),
        runtime=job_runtime("benchmark"),
    params:
        source=lambda wc: model_source(wc.model),
        settings=lambda wc: bench_settings(wc.backend),
        device=config["device"],
    script:
        "../scripts/benchmark.py"


# A pruned variant and its dense model timed in turns in one job (benchmark.paired): their
# speed-up with an interval that holds what changes between jobs.
rule paired_benchmark:
    input:
        dense=lambda wc: checkpoint_dir(wc.model, "dense"),
        checkpoint=lambda wc: checkpoint_dir(wc.model, wc.variant),
        dense_report=lambda wc: layout.PRUNE_REPORT.format(model=wc.model, variant="dense"),
        report=layout.PRUNE_REPORT,
    output:
        layout.PAIRED,
    log:
        "logs/paired/{model}/{variant}/{backend}/{lin}x{lout}.log",
    conda:
        "../envs/prunebench.yaml"
    threads: workflow.cores
    resources:
        gpu=GPU_JOB,
        mem_mb=job_mem_mb("paired_benchmark"),
        runtime=job_runtime("paired_benchmark"),
    params:
        source=lambda wc: model_source(wc.model),
        settings=lambda wc: paired_settings(wc.backend),
        device=config["device"],
    script:
        "../scripts/paired_benchmark.py"
