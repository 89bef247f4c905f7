# Aggregation: tables and the throughput-vs-latency figure from every cell's result file.


# `snakemake --report report.zip`: the workflow's description, then each figure and table with
# its caption (workflow/report/), under a category per kind.
report: "../report/workflow.rst"


rule aggregate:
    input:
        reports=prune_reports(),
        bench=bench_files(),
        paired=paired_files(),  # none unless benchmark.paired is on
        evals=eval_files(),
        published=published_input,  # the study's numbers, to compare with
    output:
        tables=in_report(table_files()),
        figures=in_report(figure_files()),
        provenance=layout.TABLES_PROVENANCE,
    log:
        "logs/aggregate.log",
    # tables and figures in seconds: not worth a cluster's queue
    localrule: True
    conda:
        "../envs/prunebench.yaml"
    params:
        backends=config["benchmark"]["backends"],
        # the figure's legend names (config `display_names`, prunebench.report.style)
        display_names=display_names(),
        # every variant must have these evaluation cells; a missing one fails the aggregation
        evals_expected={
            "perplexity": config["evaluation"]["perplexity"]["datasets"],
            "accuracy": zeroshot_config().get("tasks", []),
        },
    script:
        "../scripts/aggregate.py"


# Run where the hub is reachable (e.g. a login node) before computing on offline nodes.
rule prefetch:
    input:
        prefetch_inputs,
