# Aggregation: tables and the throughput-vs-latency figure from every cell's result file.

# `snakemake --report report.zip`: the workflow's description, then each figure and table with
# its caption (workflow/report/), under a category per kind.
report: "../report/workflow.rst"


def in_report(paths):
    """Flag the browsable copies (PNG figures, CSV tables) for the report; the PDF and Markdown
    copies of the same content stay plain outputs."""
    flagged = []
    for path in paths:
        name = Path(path).stem
        if path.endswith(".png"):
            backend = name.removeprefix("throughput_vs_latency_")
            path = report(path, caption="../report/throughput_vs_latency.rst",
                          category="Throughput vs latency", subcategory=f"backend {backend}",
                          labels={"figure": "throughput vs latency", "backend": backend})
        elif path.endswith(".csv"):
            # A table without its own caption file gets the generic one.
            own = Path(workflow.basedir, "workflow", "report", f"{name}.rst").exists()
            path = report(path, caption=f"../report/{name if own else 'table'}.rst",
                          category="Tables", subcategory=name, labels={"table": name})
        flagged.append(path)
    return flagged


rule aggregate:
    input:
        reports=prune_reports(),
        bench=bench_files(),
        evals=eval_files(),
    output:
        tables=in_report(expand("results/tables/{table}.{ext}", table=TABLES, ext=["csv", "md"])),
        figures=in_report(expand("results/figures/throughput_vs_latency_{backend}.{ext}",
                                 backend=config["benchmark"]["backends"], ext=["png", "pdf"])),
    params:
        backends=config["benchmark"]["backends"],
        # every variant must have these evaluation cells; a missing one fails the aggregation
        evals_expected={"perplexity": config["evaluation"]["perplexity"]["datasets"],
                        "accuracy": zeroshot_config().get("tasks", [])},
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
