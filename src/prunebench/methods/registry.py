"""The pruning methods prunebench knows, and the variant names that select them.

This module imports neither torch nor transformers: Snakemake reads it every time it parses the
workflow (a dry run included), and `prunebench plan` sizes whole configs with it, so it must
stay cheap to import. A method's code is imported only when the method is used.

A variant is `dense`, `<method>-<size>` (`depth_ppl-4.9B`, `flap-0.8`), or either of them with
`+lora` (recovered with LoRA afterwards).

To add a method: write its module (a `prune(model, calibration, target_params, **params)`) and
its `plan_<name>(config, target_params, **params)` in the torch-free `methods.sizing` (the
module names it `plan` too), then add one `Method` entry below, with the names and
defaults of its parameters (docs/architecture.md, "Add a pruning method"); the config checks
hold every method name a config uses against this table (the schema names no method). `plan` works from the config alone and returns `params_after`, `blocks_after` and
`kv_heads_kept` (KV heads summed over the blocks kept: `prunebench plan`'s KV cache column), None
for what the calibration data decides, plus whatever else `prunebench plan` should show (ratio,
blocks removed, a note).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from prunebench import PrunebenchError, did_you_mean


RULE_KINDS = ("whole", "bool", "choice", "fraction")


@dataclass(frozen=True)
class Rule:
    """What one method parameter accepts: `whole` (an integer >= minimum), `bool`, `choice`
    (one of `choices`; `any_case`: in any letter case), `fraction` (a number in [0, 1]);
    `optional`: None too (a value solved or scaled to the model)."""
    kind: str
    minimum: int = 0
    choices: tuple[str, ...] = ()
    hint: str = ""
    optional: bool = False
    any_case: bool = False

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS or (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"Rule({self.kind!r}, choices={self.choices}): the kinds are "
                             f"{RULE_KINDS}, and only a choice has choices")

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` (completing '<method>: <name>=<value>'), or None."""
        if value is None and self.optional:
            return None
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind == "whole" and not (number and isinstance(value, int)
                                         and value >= self.minimum):
            return f" must be an integer >= {self.minimum}{self.hint}"
        if self.kind == "bool" and not isinstance(value, bool):
            return f" must be true or false{self.hint}"
        if self.kind == "fraction" and not (number and 0 <= value <= 1):
            return f" must be a number in [0, 1]{self.hint}"
        if self.kind == "choice":
            if self.any_case and type(value).__name__ == "dtype":  # a torch dtype, by name
                value = str(value).removeprefix("torch.")
            given = value.lower() if self.any_case and isinstance(value, str) else value
            if not (isinstance(given, str) and given in self.choices):
                close = did_you_mean(value, self.choices) if isinstance(value, str) else ""
                return f"{close}: choose one of {list(self.choices)}{self.hint}"
        return None


def whole(minimum: int, optional: bool = False) -> Rule:
    return Rule("whole", minimum=minimum, optional=optional)


BOOL = Rule("bool")
PROTECT = {"protect_first": whole(0), "protect_last": whole(0)}
# The choices of the methods' parameters, which the rules below hold them to.
SCORING_DTYPES = ("float32", "float16", "bfloat16")  # a model run to score it
DTYPE_NAMES = ("float32", "fp32", "float", "float16", "fp16", "half", "bfloat16", "bf16")
SCORED_IN = Rule("choice", choices=SCORING_DTYPES,
                 hint=" (the originals scored in float16 on the GPU)")
TAYLOR_VARIANTS = ("param_first", "param_second", "param_mix", "vectorize")
FLAP_STRUCTURES = ("AL-AM", "UL-UM")
FLAP_METRICS = ("WIFV", "IFV", "WIFN")
FLAP_STATISTICS = ("exact", "upstream")
SHORTGPT_LAST_BLOCK = ("output", "final_norm")
BLOCK_TYPES = ("mix", "mha", "mlp")  # BlockPruner's sublayers: both kinds, attention, MLP


@dataclass(frozen=True)
class Method:
    entry: str                    # "module:function" that prunes
    calibration: dict[str, Any]   # the original implementation's data: source, n, length, sampling
    data_free: bool = False       # reads no calibration data (the workflow draws none)
    # The method's parameters and their defaults, and what each accepts. Here rather than in the
    # method's module (which imports torch) so that the config checks, run on every parse of the
    # workflow, can refuse a misspelt name or a bad value before any job runs; the method's code
    # checks the same rules (checked_params). Whatever needs the model (a block range, a target
    # the protection leaves unreachable) its `plan` checks, from the model's config.
    params: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)
    # Its prune takes `progress` (methods.loss_memo.ScoringProgress) and keeps each calibration
    # loss there as it comes: an interrupted prune resumes.
    resumable: bool = False

    @property
    def module(self) -> str:
        return self.entry.split(":")[0]


METHODS: dict[str, Method] = {
    # depth: whole blocks removed
    "depth_ppl": Method("prunebench.methods.depth:prune_ppl",
                        {"source": "bookcorpus", "n": 10, "length": 128,
                         "sampling": "row_slice_inclusive"},
                        params={"protect_first": 0, "protect_last": 0, "batch_size": 10,
                                "dtype": "float32"},
                        rules={**PROTECT, "batch_size": whole(1), "dtype": SCORED_IN},
                        resumable=True),
    # depth_ppl's, sleb's, shortgpt's and depth_angular's `dtype` is the one their model runs
    # in while it is scored (the first three's originals: float16); depth_taylor's `dtype` is
    # the compute dtype of its gradient pass (methods.depth_taylor).
    "depth_taylor": Method("prunebench.methods.depth_taylor:prune",
                           {"source": "bookcorpus", "n": 10, "length": 128,
                            "sampling": "row_slice_inclusive"},
                           params={"protect_first": 4, "protect_last": 2, "batch_size": 10,
                                   "dtype": "float32", "gradient_checkpointing": True},
                           rules={**PROTECT, "batch_size": whole(1),
                                  "dtype": Rule("choice", choices=DTYPE_NAMES, any_case=True),
                                  "gradient_checkpointing": BOOL}),
    "depth_mag": Method("prunebench.methods.depth_mag:prune",
                        {"source": "bookcorpus", "n": 10, "length": 128,
                         "sampling": "row_slice_inclusive"},
                        data_free=True, params={"protect_first": 4, "protect_last": 2},
                        rules=PROTECT),
    "sleb": Method("prunebench.methods.sleb:prune",
                   {"source": "wikitext2", "n": 128, "length": 2048, "sampling": "joined_chunks"},
                   params={"protect_first": 1, "protect_last": 1, "batch_size": 1,
                           "dtype": "float32"},
                   rules={**PROTECT, "batch_size": whole(1), "dtype": SCORED_IN},
                   resumable=True),
    # ShortGPT cuts every PG19 validation book in 256-token chunks and scores them all, millions
    # of tokens (`source: pg19` with row_chunks does so: config/README.md). The default slices
    # WikiText-2's running text instead: long text, as PG19's books, at a fraction of the cost,
    # and a default whose n and length suit whatever source a config names alone.
    "shortgpt": Method("prunebench.methods.shortgpt:prune",
                       {"source": "wikitext2", "n": 128, "length": 2048,
                        "sampling": "joined_stream"},
                       params={"protect_first": 0, "protect_last": 0, "batch_size": 8,
                               "dtype": "float32", "last_block": "output"},
                       rules={**PROTECT, "batch_size": whole(1), "dtype": SCORED_IN,
                              "last_block": Rule(
                                  "choice", choices=SHORTGPT_LAST_BLOCK,
                                  hint=" (output: what the block produced, the paper's "
                                       "definition; final_norm: that after the final norm, as "
                                       "the authors' code reads it)")}),
    # Gromov et al. 2024: the run of consecutive blocks whose input and output are closest in
    # angle at the last token. The paper's calibration is C4 validation; calibration draws from
    # a source's train split, so C4's first train shard, cut as GPTQ-era code cuts it.
    "depth_angular": Method("prunebench.methods.depth_angular:prune",
                            {"source": "c4", "n": 128, "length": 2048, "sampling": "row_slice"},
                            params={"protect_first": 0, "protect_last": 0, "batch_size": 8,
                                    "dtype": "float32"},
                            rules={**PROTECT, "batch_size": whole(1), "dtype": SCORED_IN}),
    # BlockPruner (Zhong et al. 2024): attention and MLP sublayers removed one at a time, by
    # the calibration perplexity without each (its block_search.py: Alpaca's held-out text,
    # 64 rows joined and cut in 2048-token windows by its README's command (32 in its
    # block_search.sh), 256 in its paper; scored in bfloat16, 2 windows a pass). Every block
    # may go (no protection).
    "blockpruner": Method("prunebench.methods.blockpruner:prune",
                          {"source": "tatsu_alpaca", "n": 64, "length": 2048,
                           "sampling": "sampled_chunks"},
                          params={"block_type": "mix", "protect_first": 0, "protect_last": 0,
                                  "batch_size": 2, "dtype": "float32"},
                          rules={**PROTECT, "block_type": Rule(
                                     "choice", choices=BLOCK_TYPES,
                                     hint=" (mix: attention and MLP sublayers, mha: attention "
                                          "only, mlp: MLP only)"),
                                 "batch_size": whole(1), "dtype": SCORED_IN},
                          resumable=True),
    # width: heads and MLP channels removed in every block
    "llm_pruner": Method("prunebench.methods.llm_pruner:prune",
                         {"source": "bookcorpus", "n": 10, "length": 64,
                          "sampling": "row_slice_inclusive"},
                         params={"block_start": None, "block_end": None, "ratio": None,
                                 "taylor": "param_first"},
                         rules={"block_start": whole(0, optional=True),
                                "block_end": whole(1, optional=True),
                                "ratio": Rule("fraction", optional=True,
                                              hint=" (the fraction of each block's heads and "
                                                   "channels to remove)"),
                                "taylor": Rule("choice", choices=TAYLOR_VARIANTS)}),
    "flap": Method("prunebench.methods.flap:prune",
                   {"source": "wikitext2", "n": 1024, "length": 128, "sampling": "joined_stream"},
                   params={"structure": "AL-AM", "metric": "WIFV", "bias_compensation": True,
                           "batch_size": 8, "statistics": "exact"},
                   rules={"structure": Rule("choice", choices=FLAP_STRUCTURES),
                          "metric": Rule("choice", choices=FLAP_METRICS),
                          "bias_compensation": BOOL, "batch_size": whole(1),
                          "statistics": Rule("choice", choices=FLAP_STATISTICS)}),
    "wanda_sp": Method("prunebench.methods.wanda_sp:prune",
                       {"source": "c4", "n": 128, "length": 128, "sampling": "row_slice"},
                       params={"batch_size": 8}, rules={"batch_size": whole(1)}),
}
DATA_FREE: frozenset[str] = frozenset(name for name, m in METHODS.items() if m.data_free)
# The seed of calibration draws when a config gives none (the study's).
CALIBRATION_SEED = 1234


def method(name: str) -> Method:
    if name not in METHODS:
        raise PrunebenchError(f"unknown pruning method {name!r}{did_you_mean(name, METHODS)}: "
                              f"choose one of {sorted(METHODS)} (or 'dense' for the unpruned "
                              "model)")
    return METHODS[name]


def method_module(name: str):
    return importlib.import_module(method(name).module)


def method_function(name: str):
    return getattr(method_module(name), METHODS[name].entry.split(":")[1])


def method_plan(name: str):
    """The method's `plan(config, target_params, **params)`, taken from methods.sizing
    (`plan_<name>`) rather than the method's module, which imports torch: `prunebench plan`
    sizes whole configs without it."""
    method(name)  # an unknown name is refused with the known ones
    from prunebench.methods import sizing

    return getattr(sizing, f"plan_{name}")


def default_calibration(name: str) -> dict[str, Any]:
    """The original implementation's calibration (source, n, length, sampling) for a method."""
    return dict(method(name).calibration)


def unknown_params(name: str, params: dict[str, Any]) -> list[str]:
    """The names in `params` that the method does not have, sorted."""
    return sorted(set(params) - set(method(name).params))


def with_defaults(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The method's parameters: its defaults with `params` over them. A name the method does not
    have is refused here, before torch is imported, with the closest known name."""
    unknown = unknown_params(name, params)
    if unknown:
        known = sorted(method(name).params)
        hint = did_you_mean(unknown[0], known) if len(unknown) == 1 else ""
        raise PrunebenchError(f"{name}: unknown parameter(s) {unknown}{hint}; its parameters "
                              f"are {known}")
    return {**method(name).params, **params}  # defaults are scalars: no copy needed


def value_problems(name: str, params: dict[str, Any]) -> list[str]:
    """What is wrong with the values of `params` (of names the method has), one line each:
    "metric='WIF': choose one of [...]"."""
    rules = method(name).rules
    return [f"{key}={value!r}{problem}" for key, value in params.items()
            if key in rules and (problem := rules[key].problem(value))]


def checked_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The method's parameters over its defaults, an unknown name or a bad value refused (the
    first found), before torch is imported."""
    p = with_defaults(name, params)
    problems = value_problems(name, p)
    if problems:
        raise PrunebenchError(f"{name}: {problems[0]}")
    return p


def resolve_calibration(name: str, *overrides: dict[str, Any]) -> dict[str, Any]:
    """The calibration a method draws: the original's, the study's seed, then each override
    (the config's `methods.<m>.calibration`, a variant's `calibration`) in turn.

    The one rule for `sampling` left unset by every override: the embedded text draws
    `wrapped` windows (its rows are short paragraphs no original sampling suits, and its
    results keep their windows), any other source the method original's sampling.
    """
    resolved = {**default_calibration(name), "seed": CALIBRATION_SEED}
    for override in overrides:
        resolved.update(override)
    if resolved["source"] == "embedded" and not any("sampling" in o for o in overrides):
        resolved["sampling"] = "wrapped"
    return resolved


# ----------------------------------------------------------------------------- variant names

SUFFIX = "+lora"  # `<variant>+lora`: the variant recovered with LoRA (prunebench.lora)


def split_variant(variant: str) -> tuple[str, str | None]:
    """'depth_ppl-0.8+lora' -> ('depth_ppl-0.8', 'lora'); 'flap-0.8' -> ('flap-0.8', None)."""
    if variant.endswith(SUFFIX):
        base = variant[: -len(SUFFIX)]
        if not base or SUFFIX in base:
            raise PrunebenchError(f"variant {variant!r}: '+lora' follows one base variant once, "
                                  "e.g. 'depth_ppl-0.8+lora' or 'dense+lora'")
        return base, SUFFIX[1:]
    if "+" in variant:
        raise PrunebenchError(f"variant {variant!r}: the only recovery suffix is '+lora'")
    return variant, None


def parse_variant(variant: str) -> tuple[str, str | None]:
    """'depth_ppl-4.9B' -> ('depth_ppl', '4.9B'); 'dense' -> ('dense', None)."""
    if variant == "dense":
        return "dense", None
    name, sep, size = variant.rpartition("-")
    if not sep or not name or not size:
        # `flap_0.8`: a method name, then its size after another separator
        method, _, tail = variant.rpartition("_")
        hint = (f" (did you mean '{method}-{tail}'?)"
                if method in METHODS and tail[:1].isdigit() else "")
        raise PrunebenchError(f"variant {variant!r} must be 'dense' or '<method>-<size>' "
                              f"such as 'depth_ppl-4.9B'{hint}")
    if name == "dense":
        raise PrunebenchError(f"variant {variant!r}: the dense model takes no size: write "
                              f"'dense', or '<method>-{size}' for a model pruned to that size")
    return name, size
