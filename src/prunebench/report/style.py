"""How each method looks in the throughput-vs-latency figure: one colour, marker and display
name per method, the same in every panel and row, as the study drew it (dense: gray crosses;
LLM-Pruner: green triangles; FLAP: green circles; depth pruning, "Ours": blue squares).

Legend labels are a display name plus the size: "LLaMA-7B" for dense, "LLM-Pruner 4.9B",
"Ours (PPL) 4.9B + LoRA". The config's `display_names:` section renames models and methods
(config/README.md). Pure Python (no matplotlib import): the config checks use the method names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prunebench import PrunebenchError
from prunebench.methods.registry import METHODS, parse_variant, split_variant
from prunebench.plan.sizes import format_params, parse_size_spec

DENSE = "dense"


@dataclass(frozen=True)
class Style:
    name: str    # display name (dense: replaced by the model's display name)
    color: str   # hex, so tests and the figure compare one spelling
    marker: str  # filled matplotlib markers only: seaborn refuses to mix filled and line art


DENSE_STYLE = Style("Dense", "#7f7f7f", "X")
# Greens for the width baselines of the study's figure, blues for depth pruning ("Ours"); the
# methods the study's figure lacks get colours of their own, away from those two families.
METHOD_STYLES: dict[str, Style] = {
    "depth_ppl": Style("Ours (PPL)", "#1f77b4", "s"),
    "depth_taylor": Style("Ours (Taylor+)", "#08306b", "D"),
    "depth_mag": Style("Mag+", "#6baed6", "p"),
    "sleb": Style("SLEB", "#9467bd", "v"),
    "shortgpt": Style("ShortGPT", "#ff7f0e", "P"),
    "depth_angular": Style("Angular distance", "#843c39", "H"),
    "llm_pruner": Style("LLM-Pruner", "#2ca02c", "^"),
    "flap": Style("FLAP", "#006d2c", "o"),
    "wanda_sp": Style("Wanda-sp", "#8c564b", "<"),
    "blockpruner": Style("BlockPruner", "#e7ba52", "8"),
}
# A method outside the table (a variant name from another tool): drawn, never dropped, in a
# colour and marker no listed method uses.
_SPARE = [("#e377c2", ">"), ("#bcbd22", "h"), ("#17becf", "*"), ("#d62728", "d")]

# Dash patterns (seaborn's form: "" solid, else on/off lengths in points). A method's plain
# variants take the first free pattern of _PLAIN, its `+lora` variants one of _LORA, so that
# LoRA recovery always reads as a dashed line in the method's own colour.
_PLAIN = ["", (1, 1.5), (4, 1.5, 1, 1.5), (6, 2, 1, 2, 1, 2)]
_LORA = [(4, 2), (8, 2), (4, 2, 1, 2, 1, 2), (2, 2)]

DISPLAY_KEYS = ("models", "methods")


@dataclass(frozen=True)
class LineStyle:
    color: str
    marker: str
    dashes: tuple | str

    @property
    def linestyle(self) -> tuple | str:
        """The same dashes in matplotlib's Line2D form (for legend handles)."""
        return "-" if self.dashes == "" else (0, self.dashes)


def check_display_names(display_names: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """The config's `display_names` ({models: {key: name}, methods: {method: name}}) checked:
    only those two sections, known methods, non-empty text names."""
    if display_names is None:
        return {"models": {}, "methods": {}}
    if not isinstance(display_names, Mapping):
        raise PrunebenchError(f"display_names must be a mapping with {list(DISPLAY_KEYS)}, "
                              f"not {display_names!r}")
    unknown = sorted(set(display_names) - set(DISPLAY_KEYS))
    if unknown:
        raise PrunebenchError(f"display_names has unknown section(s) {unknown}: use "
                              f"{list(DISPLAY_KEYS)}, e.g. models: {{llama-7b: LLaMA-7B}}")
    out: dict[str, dict[str, str]] = {}
    for section in DISPLAY_KEYS:
        names = display_names.get(section) or {}
        if not isinstance(names, Mapping):
            raise PrunebenchError(f"display_names.{section} must map keys to names, "
                                  f"not {names!r}")
        bad = [k for k, v in names.items() if not isinstance(v, str) or not v.strip()]
        if bad:
            raise PrunebenchError(f"display_names.{section}: {bad} need a non-empty text name")
        out[section] = {str(k): v for k, v in names.items()}
    strangers = sorted(set(out["methods"]) - set(METHODS))
    if strangers:
        raise PrunebenchError(
            f"display_names.methods names unknown method(s) {strangers}: use the method keys "
            f"{sorted(METHODS)} (the dense model is shown under the model's display name)")
    return out


def method_of(variant: str) -> tuple[str, bool]:
    """'depth_ppl-0.8+lora' -> ('depth_ppl', True); 'dense' -> ('dense', False)."""
    base, recovery = split_variant(variant)
    return parse_variant(base)[0], recovery is not None


def method_style(method: str, spare_index: int = 0) -> Style:
    if method == DENSE:
        return DENSE_STYLE
    if method in METHOD_STYLES:
        return METHOD_STYLES[method]
    color, marker = _SPARE[spare_index % len(_SPARE)]
    return Style(method, color, marker)


def line_styles(variants: Iterable[str]) -> dict[str, LineStyle]:
    """Every variant's colour, marker and dashes, for the whole figure: the colour and marker
    are its method's; its dashes tell apart the method's sizes and `+lora` recovery."""
    variants = list(dict.fromkeys(variants))
    strangers = list(dict.fromkeys(m for m, _ in map(method_of, variants)
                                   if m != DENSE and m not in METHOD_STYLES))
    taken: dict[tuple[str, bool], int] = {}
    styles = {}
    for variant in variants:
        method, lora = method_of(variant)
        style = method_style(method, strangers.index(method) if method in strangers else 0)
        rank = taken.get((method, lora), 0)
        taken[(method, lora)] = rank + 1
        patterns = _LORA if lora else _PLAIN
        styles[variant] = LineStyle(style.color, style.marker, patterns[rank % len(patterns)])
    return styles


def size_label(variant: str, params_after: int | None = None) -> str:
    """The size as the study wrote it: '4.9B' as written; a kept fraction ('0.8') as the
    pruned model's parameter count when known ('1.23M'), else as a percentage ('80%')."""
    size = parse_variant(split_variant(variant)[0])[1]
    if size is None:
        return ""
    kind, value = parse_size_spec(size)
    if kind == "count":
        return size if not size.isdigit() else format_params(int(value))
    if params_after is not None:
        return format_params(int(params_after))
    return f"{value * 100:g}%"


def variant_label(model: str, variant: str, display_names: Mapping[str, Any] | None = None,
                  params_after: int | None = None) -> str:
    """The legend label: 'LLaMA-7B (dense)', 'LLM-Pruner 4.9B', 'Ours (PPL) 0.98M + LoRA'. The
    dense model is named as the paper's figure names it, with "(dense)": under the legend's
    title (the model) its name alone read as a title repeated, not as one of the variants."""
    names = check_display_names(display_names)
    method, lora = method_of(variant)
    if method == DENSE:
        label = f"{names['models'].get(model, model)} (dense)"
    else:
        name = names["methods"].get(method, method_style(method).name if method in
                                    METHOD_STYLES else method)
        label = f"{name} {size_label(variant, params_after)}"
    return f"{label} + LoRA" if lora else label


def model_label(model: str, display_names: Mapping[str, Any] | None = None) -> str:
    return check_display_names(display_names)["models"].get(model, model)
