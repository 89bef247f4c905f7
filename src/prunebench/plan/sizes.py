"""Target sizes: `4.9B`, `350M`, `800K`, an absolute count, or a kept fraction such as `0.75`."""

from __future__ import annotations

import re

from prunebench import PrunebenchError

_SUFFIX = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMBG]?)\s*$", re.IGNORECASE)


def parse_size_spec(size: str | int | float) -> tuple[str, float]:
    """A size's meaning without the model: ('fraction', 0.75) or ('count', 4.9e9).

    Checked when the workflow is parsed, so a malformed, ambiguous or non-positive size stops
    the run before any job. Two spellings of one size ('0.8' and '0.80', '4.9B' and '4900M')
    give the same result.
    """
    text = str(size)
    match = _PATTERN.match(text)
    if not match:
        raise PrunebenchError(
            f"malformed target size {text!r}: write an absolute count such as '4.9B' or '350M', "
            "or the fraction of parameters to keep such as '0.75'")
    value, suffix = float(match.group(1)), match.group(2).upper()
    if value <= 0:
        raise PrunebenchError(f"target size {text!r} must be positive: a count such as '350M' "
                              "or a kept fraction such as '0.75'")
    if suffix:
        return "count", float(round(value * _SUFFIX[suffix]))
    if value == 1:
        raise _keeps_every_parameter(text)
    if value <= 1:
        return "fraction", value
    if value.is_integer() and value <= 100:
        # No model is that small (its embeddings alone): 'flap-75' meant 75% of the model.
        fraction = f"'{value / 100:g}'" if value < 100 else "such as '0.8'"
        raise PrunebenchError(
            f"target size {text!r} would be {int(value)} parameters, fewer than any model's "
            f"embeddings: if a percentage was meant, write the fraction of parameters to keep, "
            f"{fraction}; for an absolute size add a suffix, such as '{text}M'")
    if value.is_integer():
        return "count", value
    # '1.5': neither a fraction to keep nor a whole count; '1.5B' was probably meant
    raise PrunebenchError(
        f"target size {text!r} is ambiguous: a plain number is a kept fraction (<= 1) or a "
        "whole parameter count; add a suffix for absolute sizes such as '1.5B'")


def _keeps_every_parameter(size, of_model: str = "") -> PrunebenchError:
    return PrunebenchError(f"target size {str(size)!r} keeps every parameter{of_model}, which is "
                           "the dense model, not a pruned one: keep less, such as '0.8', or use "
                           "the variant 'dense'")


def parse_size(size: str | int | float, dense_params: int) -> int:
    """Return the target parameter count for `size` given the dense model's count.

    A plain number in (0, 1] is the fraction of the dense parameters to keep; a number with a
    K/M/B suffix, or an integer above 1, is an absolute parameter count.
    """
    kind, value = parse_size_spec(size)
    target = int(round(value * dense_params)) if kind == "fraction" else int(value)
    if target <= 0:
        raise PrunebenchError(f"target size {size!r} keeps no parameter of a "
                              f"{dense_params:,}-parameter model: choose a larger target")
    if target == dense_params:
        raise _keeps_every_parameter(size, f" of the {dense_params:,}-parameter model")
    if target > dense_params:
        raise PrunebenchError(
            f"target size {size!r} ({target:,} params) is larger than the model "
            f"({dense_params:,} params): choose a smaller target")
    return target


def format_params(n: int) -> str:
    """4916965376 -> '4.92B' (for tables and logs)."""
    for suffix, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{suffix}" if n / scale < 100 else f"{n / scale:.0f}{suffix}"
    return str(n)
