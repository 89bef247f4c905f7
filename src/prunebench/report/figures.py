"""The figures: throughput against latency as the study drew it, and quality against speed
with its Pareto front. Colours, markers and legend names come from prunebench.report.style."""

from __future__ import annotations

import logging
import os
import textwrap
from typing import Any

import numpy as np
import pandas as pd

from prunebench import PrunebenchError
from prunebench.atomic import atomic_path
from prunebench.report import style
from prunebench.report.load import (OK, OOM, appearance, compiled_while_timed, fell_back,
                                    token_order, untrusted, variant_order)

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Figure


def plot_throughput_vs_latency(bench_df: pd.DataFrame, png_path: str | os.PathLike,
                               pdf_path: str | os.PathLike, backend: str = "hf",
                               reports_df: pd.DataFrame | None = None,
                               display_names: dict[str, Any] | None = None):
    """The study's figure: models (rows) x token configs (columns); throughput (log2, plain
    tick numbers) against the latency of one whole generate call, one line per variant, points
    labelled with their batch size (labels placed so that none overlaps another or a marker;
    one the crowd pushes away from its point has a thin line to it), the batch size that ran
    out of memory marked "<batch>: OOM" beside the line's last point,
    flagged timings drawn hollow: unstable (95% interval wider than the target), drifting,
    contended (other work beside them), a compiled decode step that ran eagerly, or a compile
    inside the timed runs (`graphs_compiled_while_timed`).

    Each method keeps one colour and marker in every panel and row (prunebench.report.style);
    each row has its legend, labelled with display names and sizes ("LLaMA-7B",
    "LLM-Pruner 4.9B"): `display_names` is the config's section of that name, and
    `reports_df` (the prune reports) gives the parameter count shown for a fraction size
    ("0.8"). Throughput is `throughput_tok_s`, batch * tokens / mean latency, so that a point's
    two coordinates come from the same mean (docs/benchmarks.md). Saved as PNG and PDF;
    returns the matplotlib Figure."""
    import seaborn as sns
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    names = style.check_display_names(display_names)
    df = bench_df[bench_df["backend"] == backend]
    if df.empty:
        raise PrunebenchError(
            f"no bench rows for backend {backend!r} (have {appearance(bench_df['backend'])}): "
            "plot one of those, or add that backend's bench files to the aggregate inputs")
    models, tokens = appearance(df["model"]), token_order(df)
    variants = variant_order(df["variant"])
    styles = style.line_styles(variants)  # one style per variant for the whole figure
    palette = {v: s.color for v, s in styles.items()}
    markers = {v: s.marker for v, s in styles.items()}
    dashes = {v: s.dashes for v, s in styles.items()}
    sizes = {} if reports_df is None else {
        (r.model, r.variant): int(r.params_after) for r in reports_df.itertuples()}
    labels = {(m, v): style.variant_label(m, v, names, sizes.get((m, v)))
              for m, v in df[["model", "variant"]].drop_duplicates().itertuples(index=False)}
    shape = df.drop_duplicates("tokens").set_index("tokens")[["input_tokens", "output_tokens"]]
    ok = df[df["status"] == OK].sort_values("batch_size")
    # The sweep stops at the first batch size that runs out of memory: that one is marked.
    oom = df[df["status"] == OOM].groupby(["model", "tokens", "variant"], sort=False)[
        "batch_size"].min()

    fig = Figure(figsize=(max(3.4 * len(tokens) + 2.8, 6.5), 2.9 * len(models) + 1.0),
                 layout="constrained")
    FigureCanvasAgg(fig)  # Agg renders both PNG and PDF without touching pyplot's state
    axes = fig.subplots(len(models), len(tokens), squeeze=False)
    marks: dict[Any, tuple[list, list]] = {}  # per axes: its points, the texts to place
    for r, model in enumerate(models):
        for c, tok in enumerate(tokens):
            ax = axes[r][c]
            cell = ok[(ok["model"] == model) & (ok["tokens"] == tok)]
            cell_oom = {v: int(b) for (m, t, v), b in oom.items() if m == model and t == tok}
            ax.set_yscale("log", base=2)
            if not cell.empty:
                sns.lineplot(data=cell, x="latency_s_mean", y="throughput_tok_s", hue="variant",
                             style="variant", hue_order=variants, style_order=variants,
                             palette=palette, markers=markers, dashes=dashes, sort=False,
                             estimator=None, legend=False, ax=ax)
                _hollow_unstable(ax, cell, palette, markers)
                _frame_points(ax, cell["latency_s_mean"], cell["throughput_tok_s"])
            elif not cell_oom:
                ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center",
                        color="grey")
            marks[ax] = _panel_marks(ax, cell, cell_oom, palette, labels, model)
            # Plain numbers (64, 128, ...) at the powers of two read better than 2^k.
            ax.yaxis.set_major_locator(LogLocator(base=2))
            ax.yaxis.set_major_formatter(FuncFormatter(_plain_tick))
            ax.yaxis.set_minor_locator(NullLocator())
            ax.grid(True, which="major", alpha=0.3)
            if r == 0:
                lin, lout = shape.loc[tok]
                ax.set_title(f"{lin} input x {lout} output tokens", fontsize=10)
            ax.set_xlabel("Latency (s)" if r == len(models) - 1 else "")
            ax.set_ylabel("Throughput (tokens/s, log scale)" if c == 0 else "")
        # A legend per row: labels carry the model's sizes ("LLM-Pruner 4.9B"), the styles
        # are the figure's.
        present = [v for v in variants if (model, v) in labels]
        handles = [Line2D([], [], color=styles[v].color, marker=styles[v].marker,
                          linestyle=styles[v].linestyle, label=labels[(model, v)])
                   for v in present]
        axes[r][-1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5),
                           frameon=False, fontsize=8, ncols=1 if len(present) <= 12 else 2,
                           title=style.model_label(model, names), title_fontsize=9)

    if untrusted(ok).any():  # the note only where a hollow point is drawn
        why = "unstable, drifting or contended timing" + (
            ", or compiled step run eagerly" if fell_back(ok).any() else "") + (
            ", or compiled while timed" if compiled_while_timed(ok).any() else "")
        note = [Line2D([], [], color="grey", marker="o", markerfacecolor="white",
                       linestyle="none", label=f"hollow: {why}")]
        fig.legend(handles=note, loc="outside lower center", frameon=False, fontsize=9)
    # Where it was measured: a timing means nothing without its machine.
    devices = ", ".join(appearance(ok["device_name"].dropna())) if "device_name" in ok else ""
    fig.suptitle(f"Throughput vs latency, backend {backend}{f' on {devices}' if devices else ''}"
                 "\n(throughput = batch x tokens / mean latency; point labels: batch size)",
                 fontsize=10)
    # Labels are placed on the final layout: lay the figure out once, then freeze it, so the
    # saved files put every text where its overlaps were checked.
    fig.canvas.draw()
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()
    for ax, (points, texts) in marks.items():
        _place_texts(ax, renderer, points, texts)
    for path, fmt in ((png_path, "png"), (pdf_path, "pdf")):
        with atomic_path(path) as tmp:  # the temp name has no suffix, so name the format
            fig.savefig(tmp, format=fmt, dpi=150)
    return fig


def _plain_tick(value: float, _pos=None) -> str:
    return f"{value:.0f}" if value >= 1 else f"{value:g}"


def _frame_points(ax, x: pd.Series, y: pd.Series) -> None:
    """Limits with room for labels: x padded (more on the right, where an OOM mark goes), y out
    to the powers of two enclosing the points with room for their labels, so that every panel
    has at least two labelled ticks."""
    low, high = float(x.min()), float(x.max())
    span = high - low if high > low else 0.4 * high
    ax.set_xlim(max(low - 0.12 * span, 0.0), high + 0.28 * span)  # latencies are positive
    bottom = 2.0 ** np.floor(np.log2(float(y.min()) / 1.15))
    top = 2.0 ** np.ceil(np.log2(float(y.max()) * 1.3))
    ax.set_ylim(bottom, top)


# Where a text may go around its point, in points (dx, dy) with its alignment: close in first,
# then farther out. The first place free of other texts and markers wins.
_NEAR = [(1, 1, "left", "bottom"), (1, -1, "left", "top"), (-1, 1, "right", "bottom"),
         (-1, -1, "right", "top"), (0, 1.4, "center", "bottom"), (0, -1.4, "center", "top"),
         (1.4, 0, "left", "center"), (-1.4, 0, "right", "center")]
_PLACES = [(dx * d, dy * d, ha, va) for d in (4, 9, 15, 22) for dx, dy, ha, va in _NEAR]
# An OOM mark goes where the line would have gone on: right of its last point first.
_OOM_PLACES = [p for p in _PLACES if p[0] > 0 and p[1] == 0] + _PLACES
_MARKER_RADIUS_PT = 3.5  # matplotlib's default marker is 6 points across
_RING_RADIUS_PT = 5.0  # the quality figure's Pareto ring is 9 points across
# Names with a leader line may go farther out: the line says whose they are.
_LEADER_PLACES = _PLACES + [(dx * d, dy * d, ha, va) for d in (32, 45, 60)
                            for dx, dy, ha, va in _NEAR]
# A variant's name this close to its point (the first two rings of _PLACES) needs no leader
# line; a batch size or OOM mark only in the first ring, right beside its point: a number in a
# crowd of lines two rings out was read as another point's.
_NO_LEADER_WITHIN_PT = 9 * 1.4
_BESIDE_PT = 4 * 1.4


def _variant_names(ax, renderer, rows: list[tuple[float, float, str]]) -> list[dict]:
    """The quality figure's names, one text per group of points drawn on top of each other
    (centres closer than a marker across, in the laid-out panel): their names joined, three to
    a line, beside the group's first point, so that no name sits beside another's point.
    Never left out (`keep`), with a leader line where placed farther out."""
    near = renderer.points_to_pixels(2 * _MARKER_RADIUS_PT)
    groups: list[list[tuple[float, float, str, float, float]]] = []
    for x, y, name in rows:
        px, py = ax.transData.transform((x, y))
        group = next((g for g in groups if abs(g[0][3] - px) <= near
                      and abs(g[0][4] - py) <= near), None)
        if group is None:
            groups.append([(x, y, name, px, py)])
        else:
            group.append((x, y, name, px, py))
    specs = []
    for group in groups:
        names = [name for _, _, name, _, _ in group]
        text = "\n".join(", ".join(names[i:i + 3]) for i in range(0, len(names), 3))
        specs.append({"text": text, "xy": group[0][:2], "color": "black", "weight": "normal",
                      "places": _LEADER_PLACES, "gid": "variant:" + ",".join(names), "keep": True,
                      "leader": True})
    return specs


def _panel_marks(ax, cell: pd.DataFrame, cell_oom: dict[str, int], palette: dict,
                 labels: dict, model: str) -> tuple[list, list]:
    """A panel's measured points and the texts to place beside them: each line's OOM mark at
    its last point (or, for a line with no measured point, a note in the panel's corner),
    then the batch-size labels; one pushed away from its point by the crowd has a thin line to
    it."""
    points = list(zip(cell["latency_s_mean"], cell["throughput_tok_s"]))
    texts = []
    corner = 0
    for variant, batch in cell_oom.items():
        line = cell[cell["variant"] == variant]
        if line.empty:  # out of memory from the first batch size on: nothing to put it beside
            ax.text(0.03, 0.97 - 0.09 * corner, f"{labels[(model, variant)]}: OOM from "
                    f"batch {batch}", transform=ax.transAxes, ha="left", va="top", fontsize=7,
                    fontweight="bold", color=palette[variant], gid=f"oom:{variant}:{batch}")
            corner += 1
            continue
        last = line.iloc[-1]
        texts.append({"text": f"{batch}: OOM", "xy": (last.latency_s_mean,
                      last.throughput_tok_s), "color": palette[variant], "weight": "bold",
                      "places": _OOM_PLACES, "gid": f"oom:{variant}:{batch}", "keep": True,
                      "leader": True, "bare_pt": _BESIDE_PT})
    for row in cell.itertuples():
        texts.append({"text": str(row.batch_size), "xy": (row.latency_s_mean,
                      row.throughput_tok_s), "color": palette[row.variant], "weight": "normal",
                      "places": _PLACES, "gid": f"batch:{row.variant}:{row.batch_size}",
                      "leader": True, "bare_pt": _BESIDE_PT})
    return points, texts


def _place_texts(ax, renderer, points: list, texts: list,
                 radius_pt: float = _MARKER_RADIUS_PT) -> None:
    """Put each text at its first place that stays inside the axes and overlaps no marker
    (`radius_pt` around its centre), no text already placed (the corner notes included) and no
    leader line already drawn; a text with no free place is left out rather than drawn over
    another (its point stays), unless its spec says `keep`. A spec with `leader` gets a thin
    line to its point where it lands farther out than `bare_pt` points (default: the first two
    rings of places) or nearer another point than its own; its line runs through no other
    text where a place allows. Deterministic: the same rows give the same figure."""
    from matplotlib.transforms import Bbox

    frame = ax.get_window_extent(renderer)
    radius = renderer.points_to_pixels(radius_pt)
    shown = ax.transData.transform(points) if points else np.empty((0, 2))
    markers = [Bbox.from_extents(x - radius, y - radius, x + radius, y + radius)
               for x, y in shown]
    boxes = [t.get_window_extent(renderer) for t in ax.texts]  # the texts placed so far
    lines: list = []  # their leader lines, as paths in display coordinates
    # a gap of at least 3 points between two texts: closer, "1" and "8" read as "18"
    pad = renderer.points_to_pixels(1.5)

    def free(text, spec, crossing: bool):
        """The first free place of `spec` for `text`, its box and its leader line (None where
        it needs none); `crossing`: the line may run through other texts."""
        own = ax.transData.transform(spec["xy"])
        for place in spec["places"]:
            box = _put(text, place, renderer).padded(pad)
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0
                      and box.y1 <= frame.y1)
            if not inside or any(box.overlaps(other) for other in markers + boxes) \
                    or any(line.intersects_bbox(box) for line in lines):
                continue
            if max(abs(place[0]), abs(place[1])) <= spec.get("bare_pt", _NO_LEADER_WITHIN_PT) \
                    and _nearest_is_own(box, own, shown):
                return place, box, None
            line = _leader_path(box, own)
            if crossing or not any(line.intersects_bbox(other) for other in boxes):
                return place, box, line
        return None

    for spec in texts:
        # the leader (where asked for) drawn from the text's edge to just short of the marker
        leader = dict(arrowstyle="-", color="grey", linewidth=0.5, shrinkA=0,
                      shrinkB=radius_pt) if spec.get("leader") else None
        text = ax.annotate(spec["text"], spec["xy"], xytext=(0, 0), textcoords="offset points",
                           fontsize=6.5, color=spec["color"], fontweight=spec["weight"],
                           gid=spec["gid"], arrowprops=leader)
        # a line through another text only where the crowd leaves no other place
        found = free(text, spec, crossing=False) if leader is not None else None
        found = found or free(text, spec, crossing=True)
        if found is None and spec.get("keep"):  # never lost (an OOM mark, a variant's name):
            box = _put(text, spec["places"][0], renderer).padded(pad)  # beside its point
            found = spec["places"][0], box, _leader_path(box, ax.transData.transform(spec["xy"]))
        if found is None:
            text.remove()
            continue
        place, box, line = found
        _put(text, place, renderer)
        boxes.append(box)
        if leader is not None:
            if line is None:
                text.arrow_patch.set_visible(False)  # right beside its point: no line
            else:
                lines.append(line)


def _put(text, place: tuple, renderer):
    """Move annotation `text` to `place` (dx, dy in points, alignments); its box there."""
    dx, dy, ha, va = place
    text.set_position((dx, dy))
    text.set_horizontalalignment(ha)
    text.set_verticalalignment(va)
    return _text_box(text, renderer)


def _leader_path(box, own):
    """A leader line's course in display coordinates: from the middle of its text's `box`
    (matplotlib draws it from the box's edge) to its point `own`."""
    from matplotlib.path import Path

    return Path([[(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2], [own[0], own[1]]])


def _text_box(text, renderer):
    """An annotation's own box at its current place: its get_window_extent takes in its
    leader line too."""
    from matplotlib.text import Text

    text.update_positions(renderer)
    return Text.get_window_extent(text, renderer)


def _nearest_is_own(box, own, shown) -> bool:
    """Whether no other point is nearer the middle of text `box` than its own point `own`
    (display coordinates): else the text could be read as the other's."""
    middle = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
    own_distance = np.hypot(*(middle - own))
    return not any(np.hypot(*(middle - point)) < own_distance - 1e-6 for point in shown)


def _hollow_unstable(ax, cell: pd.DataFrame, palette: dict, markers: dict) -> None:
    """Redraw flagged points (`untrusted`) with a white face over the line's filled markers.

    A scatter (a collection, not a line) so the lines still hold exactly the plotted points.
    """
    unstable = cell[untrusted(cell)]
    for variant, points in unstable.groupby("variant", sort=False):
        ax.scatter(points["latency_s_mean"], points["throughput_tok_s"], marker=markers[variant],
                   facecolors="white", edgecolors=[palette[variant]], linewidths=1.2, s=36,
                   zorder=3)


def pareto_front(x: pd.Series, y: pd.Series, higher_y_better: bool = True) -> pd.Series:
    """True for the points no other point beats on both axes (higher x is better; y as told):
    the variants worth choosing."""
    sign = 1 if higher_y_better else -1
    front = []
    for i in x.index:
        dominated = ((x >= x[i]) & (sign * y >= sign * y[i]) &
                     ((x > x[i]) | (sign * y > sign * y[i]))).any()
        front.append(not dominated)
    return pd.Series(front, index=x.index)


def _not_shown(rows: pd.DataFrame, x_col: str, quality: str) -> list[str]:
    """Why each of these variants has no point in the quality-vs-speed panel."""
    out = []
    for _, row in rows.iterrows():
        speedup = pd.to_numeric(row[x_col], errors="coerce")
        value = pd.to_numeric(row[quality], errors="coerce")
        if pd.isna(speedup):
            why = "no batch-1 speed-up (batch size 1 not timed, or out of memory)"
        elif pd.isna(value):
            why = f"no {quality}"
        else:
            why = f"{quality} {value} (the model diverges)"
        out.append(f"{row['variant']} ({why})")
    return out


def plot_quality_vs_speed(summary: pd.DataFrame, png_path: str | os.PathLike,
                          pdf_path: str | os.PathLike):
    """Quality against speed, one panel per model, one point per variant: x the batch-1
    latency speed-up over dense on the first backend and the smallest token config, y the
    zero-shot average (higher is better) or, without zero-shot tasks, the first perplexity (lower is better,
    axis inverted). The Pareto front (no other variant faster and better) is drawn as a line.
    Saved as PNG and PDF; returns the matplotlib Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    speedups = [c for c in summary.columns if c.endswith("_latency_b1_speedup")]
    quality = "acc_average" if "acc_average" in summary else next(
        (c for c in summary.columns if c.startswith("ppl_")), None)
    if not speedups or quality is None:
        raise PrunebenchError("quality vs speed needs a batch-1 timing and a perplexity or "
                              "zero-shot result per variant: configure both")
    x_col, higher_better = speedups[0], quality.startswith("acc_")
    flag_col = x_col.replace("_latency_b1_speedup", "_latency_b1_flagged")
    # `{backend}_{lin}x{lout}`: split at the last underscore, as a backend's name may hold one
    # (hf_static) and a token config holds none.
    cell = " ".join(x_col.removesuffix("_latency_b1_speedup").rsplit("_", 1))
    models = appearance(summary["model"])
    fig = Figure(figsize=(4.2 * len(models) + 0.4, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    marks = {}
    for ax, model in zip(axes, models):
        rows = summary[summary["model"] == model]
        shown = (np.isfinite(pd.to_numeric(rows[x_col], errors="coerce"))
                 & np.isfinite(pd.to_numeric(rows[quality], errors="coerce")))
        points = rows[shown]
        # Said under the panel, not left out in silence: a panel of no point (batch size 1
        # not timed) read as a figure that failed, a diverged variant as one not configured.
        hidden = _not_shown(rows[~shown], x_col, quality)
        if hidden:
            log.warning("quality vs speed, %s: not shown: %s", model, "; ".join(hidden))
        # Hollow where the batch-1 timing of the variant or of dense is not to be trusted
        # (summary_table's `_latency_b1_flagged`; summaries made before it have none).
        flagged = (points[flag_col].fillna(False).astype(bool) if flag_col in points
                   else pd.Series(False, index=points.index))
        low, high = (x_col.replace("_speedup", f"_speedup_ci95_{end}") for end in ("low", "high"))
        if low in points and points[low].notna().any():  # the speed-ups' 95% intervals
            bars = points.dropna(subset=[low, high])
            ax.errorbar(bars[x_col], bars[quality], fmt="none", ecolor="tab:blue", alpha=0.5,
                        elinewidth=0.8, capsize=2, zorder=1,
                        xerr=[bars[x_col] - bars[low], bars[high] - bars[x_col]],
                        label="horizontal bars: within-job 95% interval of the speed-up")
        spread = f"{quality}_stderr"  # the zero-shot average's standard error, where known
        if spread in points and points[spread].notna().any():
            bars = points.dropna(subset=[spread])
            # a 95% interval, as the horizontal bars are: 1.96 standard errors either side
            ax.errorbar(bars[x_col], bars[quality], yerr=1.96 * bars[spread], fmt="none",
                        ecolor="tab:green", alpha=0.5, elinewidth=0.8, capsize=2, zorder=1,
                        label="vertical bars: 95% interval of the average (1.96 standard "
                              "errors)")
        ax.scatter(points.loc[~flagged, x_col], points.loc[~flagged, quality], color="tab:blue",
                   zorder=3)
        if flagged.any():
            ax.scatter(points.loc[flagged, x_col], points.loc[flagged, quality], zorder=3,
                       facecolors="white", edgecolors="tab:blue",
                       label="hollow: batch-1 timing (its own or dense's) flagged")
        # Names are placed once the layout is final (_variant_names, _place_texts): variants
        # drawn on top of each other share one text, and none goes over another.
        marks[ax] = list(zip(points[x_col], points[quality], points["variant"]))
        if not points.empty:
            front = points[pareto_front(points[x_col], points[quality], higher_better)]
            front = front.sort_values(x_col)
            # A front through a flagged speed-up may be another once that cell is timed again:
            # dashed, and its key says so.
            unsure = bool(flagged[front.index].any())
            # ringed too: a front of one point (one variant better and faster than all) shows
            ax.plot(front[x_col], front[quality], color="tab:orange", zorder=2, marker="o",
                    markersize=9, markerfacecolor="none", linestyle="--" if unsure else "-",
                    label="Pareto front" + (" (dashed: through a flagged speed-up)"
                                            if unsure else ""))
        if not higher_better:
            ax.invert_yaxis()  # up is better on both figures
        ax.axvline(1.0, color="grey", linewidth=0.6, linestyle=":")  # dense speed
        ax.margins(x=0.2, y=0.15)  # room for the names beside the outermost points
        ax.grid(True, alpha=0.3)
        ax.set_title(model, fontsize=10)
        ax.set_xlabel(f"batch-1 speed-up over dense ({cell})" + "".join(
            "\n" + line for line in textwrap.wrap("not shown: " + "; ".join(hidden), 64)
            if hidden))
        ax.set_ylabel("zero-shot accuracy (average)" if higher_better
                      else f"perplexity ({quality.removeprefix('ppl_')})")
    fig.suptitle("Quality against speed (up and right is better)", fontsize=10)
    # One key for all panels, below them: inside a panel it covered points and their bars.
    key = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            key.setdefault(label, handle)
    if key:
        ncols = 1 if len(models) == 1 else 2  # one panel is too narrow for two columns
        width, height = fig.get_size_inches()
        fig.set_size_inches(width, height + 0.16 * -(-len(key) // ncols))  # room for its rows
        fig.legend(list(key.values()), list(key), loc="outside lower center", frameon=False,
                   fontsize=7, ncols=ncols)
    fig.canvas.draw()  # as in the throughput figure: names placed on the frozen final layout
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()
    for ax, rows in marks.items():
        _place_texts(ax, renderer, [(x, y) for x, y, _ in rows],
                     _variant_names(ax, renderer, rows), radius_pt=_RING_RADIUS_PT)
    for path, fmt in ((png_path, "png"), (pdf_path, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150)
    return fig
