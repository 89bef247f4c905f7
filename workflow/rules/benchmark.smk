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
