"""Tables and the throughput-vs-latency figure from every cell's result file."""
import os
from pathlib import Path

from prunebench import logs, report
from prunebench.atomic import write_json
from prunebench.plan import layout
from prunebench.report.load import THIS_RUN
from prunebench.results import aggregation_record

log = logs.setup(snakemake.log[0])
reports = report.load_prune_reports(snakemake.input.reports)
bench = report.load_bench(snakemake.input.bench)
evals = report.load_evals(snakemake.input.evals, expect=snakemake.params.evals_expected)

speed = report.speed_table(bench, reports)
# benchmark.paired on: the paired speed-ups, beside the separate jobs' and in the summary
paired = (report.paired_table(report.load_paired(snakemake.input.paired), speed)
          if snakemake.input.paired else None)
tables = {
    "speed": speed,
    "quality": report.quality_table(reports, evals),
    "summary": report.summary_table(bench, reports, evals, paired),
}
if paired is not None:
    tables["paired_speedup"] = paired
tables["published_vs_reproduced"] = report.published_vs_reproduced(
    tables["quality"], report.load_published(snakemake.input.published))
nothing_published = (f"No configured model and variant has a published number in "
                     f"{snakemake.input.published} (the study's LLaMA-7B and Vicuna-13B cells; "
                     "config/paper-tables.yaml configures them): nothing to compare.")
if tables["published_vs_reproduced"].empty:
    log.info("%s", nothing_published)
tables_dir = Path(snakemake.output.tables[0]).parent
for name, table in tables.items():
    report.write_table(table, tables_dir / f"{name}.csv", tables_dir / f"{name}.md",
                       allow_empty=name == "published_vs_reproduced",
                       markdown=report.compact_view(name, table),
                       empty_note=nothing_published if name == "published_vs_reproduced" else "",
                       caption=report.table_caption(name, table, speed))
figures_dir = Path(snakemake.output.figures[0]).parent
for backend in snakemake.params.backends:
    stem = figures_dir / f"throughput_vs_latency_{backend}"
    report.plot_throughput_vs_latency(bench, f"{stem}.png", f"{stem}.pdf", backend=backend,
                                      reports_df=reports,
                                      display_names=snakemake.params.display_names)
report.plot_quality_vs_speed(tables["summary"], figures_dir / "quality_vs_speed.png",
                             figures_dir / "quality_vs_speed.pdf")
# This run's `--configfile ...` (the workflow passes it through the environment).
configfiles = os.environ.get(layout.RERUN_CONFIG_VARIABLE)
write_json(snakemake.output.provenance, aggregation_record(
    {"prune_report": snakemake.input.reports, "bench": snakemake.input.bench,
     "paired": snakemake.input.paired, "evaluation": snakemake.input.evals,
     "published": [snakemake.input.published]},
    {"backends": snakemake.params.backends, "display_names": snakemake.params.display_names,
     "evals_expected": snakemake.params.evals_expected}, configfiles))
# Said last, where the run ends: where to look, timings not to trust and how to redo them.
log.info("tables in %s/ (the headline: summary.md), figures in %s/, what they were made from "
         "in %s", tables_dir, figures_dir, snakemake.output.provenance)
advice = report.rerun_advice(report.flagged_cells(tables["speed"]),
                             THIS_RUN if configfiles is None else configfiles)
if advice:
    log.warning("%s", advice)
