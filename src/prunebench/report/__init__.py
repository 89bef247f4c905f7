"""Aggregation: the per-cell result files read into data frames (`load`), the tables
(`tables`; the paired speed-ups' in `paired`), the figures (`figures`) with their fixed styles
and legend names (`style`).
The names below are the package's API: what the aggregate rule's script, the benchmark scripts
and the tests call."""

from prunebench.report.figures import pareto_front, plot_quality_vs_speed, plot_throughput_vs_latency
from prunebench.report.load import DENSE, load_bench, load_evals, load_paired, load_prune_reports
from prunebench.report.paired import paired_headline, paired_table
from prunebench.report.tables import (PUBLISHED_TOLERANCE, TIMED_TABLES, compact_view, flagged_cells,
                                      headline_table, load_published, published_vs_reproduced,
                                      quality_table, rerun_advice, speed_headline, speed_table,
                                      summary_table, table_caption, timing_caption, to_markdown,
                                      write_table)

__all__ = ["DENSE", "PUBLISHED_TOLERANCE", "TIMED_TABLES", "compact_view", "flagged_cells", "headline_table",
           "load_bench", "load_evals", "load_paired", "load_prune_reports", "load_published",
           "paired_headline", "paired_table", "pareto_front",
           "plot_quality_vs_speed", "plot_throughput_vs_latency", "published_vs_reproduced",
           "quality_table", "rerun_advice", "speed_headline", "speed_table", "summary_table",
           "table_caption", "timing_caption", "to_markdown", "write_table"]
