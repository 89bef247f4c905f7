# Aggregation: tables and the throughput-vs-latency figure from every cell's result file.


rule aggregate:
    input:
        reports=prune_reports(),
        bench=bench_files(),
        evals=eval_files(),
    output:
        tables=expand("results/tables/{table}.{ext}", table=TABLES, ext=["csv", "md"]),
        figures=expand("results/figures/throughput_vs_latency_{backend}.{ext}",
                       backend=config["benchmark"]["backends"], ext=["png", "pdf"]),
    params:
        backends=config["benchmark"]["backends"],
    conda:
        "../../envs/prunebench.yaml"
    log:
        "logs/aggregate.log",
    script:
        "../scripts/aggregate.py"


# Run where the hub is reachable (e.g. a login node) before computing on offline nodes.
rule prefetch:
    input:
        prefetch_targets(),
