"""The benchmark scripts' shared argument reading (gpu_check, paired_check, decode_variants,
family_check, gpu_memory; each imports this module from beside itself).

Every value is read as the script's start reads it, by the library's readers (those `prunebench
bench` refuses its --tokens, --batch, --device and --dtype with), so that a bad one is refused
with the parser's usage, exit code 2, naming the value and what is taken, before anything is
built or measured (a mistyped name costs no GPU time). Not a script: it has no main.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable

from prunebench import PrunebenchError, did_you_mean
from prunebench.checkpoint.param_count import is_moe, linear_attention_blocks
from prunebench.commands.arguments import (device_spec, parse_batches, parse_list,
                                           parse_token_configs)


# What --batch-sizes says of how its sizes are taken (gpu_check, paired_check): the sweep sorts
# them (benchmark.run.SweepSettings) and stops at the first that runs out of memory, and
# parse_batches refuses a size given twice (a duplicate row would time one size twice).
BATCH_SIZES_HELP = ("batch sizes, comma-separated, each once (one given twice is refused): "
                    "timed from the smallest up whatever the order given, so the first that "
                    "runs out of memory ends the sweep and the larger ones are not timed")


def refused(parser: argparse.ArgumentParser, read: Callable, *args, option: str = ""):
    """`read(*args)`, its PrunebenchError refused by `parser` (usage, exit code 2), after
    `option` (`'--dtype: '`) where the library's message does not name the option itself."""
    try:
        return read(*args)
    except PrunebenchError as err:
        parser.error(f"{option}{err}")


def names(choices: Iterable[str], what: str) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of `choices` (`what`: what they are, 'checks'),
    read into a list in the order given, each name once; an unknown name is refused listing
    the valid ones (a close one named first), as the parser's `choices` refuses one name."""
    choices = tuple(choices)

    def read(text: str) -> list[str]:
        try:
            items = parse_list(text, "the list")
        except PrunebenchError as err:  # an empty entry
            raise argparse.ArgumentTypeError(str(err)) from None
        unknown = [item for item in items if item not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {unknown}{did_you_mean(unknown[0], choices)}: choose from "
                f"{list(choices)}, comma-separated")
        twice = sorted({item for item in items if items.count(item) > 1})
        if twice:
            raise argparse.ArgumentTypeError(f"{text!r} names {', '.join(twice)} twice: keep one")
        return items

    return read


def add_device_and_dtype(parser: argparse.ArgumentParser, dtype: str = "float16",
                         dtype_help: str = "") -> None:
    """--device (the library's device_spec, that of `prunebench bench`) and --dtype (read
    after parsing by check_dtype), as every script that builds its models takes them;
    `dtype_help`: what the script does with the dtype, said first."""
    parser.add_argument("--device", default="auto", type=device_spec,
                        help="auto (CUDA when present), cpu, cuda or cuda:N")
    parser.add_argument("--dtype", default=dtype,
                        help=f"{dtype_help}float16, bfloat16, float32 (or fp16, bf16, fp32), "
                             "or auto: float16 on CUDA, float32 on the CPU")


def check_dtype(parser: argparse.ArgumentParser, text: str) -> None:
    """--dtype read by the library's resolve_dtype, which the scripts build their models in
    (its names and aliases, and 'auto', resolved on the device at the script's start), a bad
    one refused by the parser (gpu_check, paired_check, decode_variants, family_check)."""
    from prunebench.modeling import resolve_dtype  # torch: only in the scripts that build models

    try:
        resolve_dtype(text, "cpu")  # 'auto' is resolved on the device in main
    except PrunebenchError as err:
        parser.error(f"--dtype: {err} or auto")


def check_attention(parser: argparse.ArgumentParser, text: str) -> None:
    """--attention read by the library's resolve_attention, a bad one refused by the parser
    (gpu_check, decode_variants)."""
    import torch

    from prunebench.benchmark import resolve_attention

    refused(parser, resolve_attention, text, torch.device("cpu"), option="--attention: ")


def check_common(parser: argparse.ArgumentParser, args: argparse.Namespace,
                 tokens=parse_token_configs) -> None:
    """What gpu_check and paired_check both take, --tokens, --batch-sizes and --dtype (--device
    is device_spec, the parser's type). `tokens`: the script's reader of --tokens
    (paired_check's takes one token config)."""
    refused(parser, tokens, args.tokens)  # each of the readers names its option
    refused(parser, parse_batches, args.batch_sizes, "--batch-sizes")
    check_dtype(parser, args.dtype)


def checked_arch(parser: argparse.ArgumentParser, name: str, read: Callable):
    """--arch's config, read by the script's `read` (a known shape or a test shape), or the
    parser's refusal of a name that is none."""
    return refused(parser, read, name, option="--arch: ")


def undecoded_kind(config) -> str | None:
    """What a model is that width surgery and the compiled backend's decoder do not run (they
    refuse it once built: param_count.refuse_moe), as the parsers' refusals say it: a mixture
    of experts, or a model with blocks of another token mixer than softmax attention (Granite
    4.0's dense hybrids, Qwen3.5's dense models: known shape qwen3.5-27b); None for any other."""
    if is_moe(config):
        return "a mixture of experts"
    if any(linear_attention_blocks(config)):
        return "a model with blocks of another token mixer than softmax attention"
    return None


def check_moe_arch(parser: argparse.ArgumentParser, args: argparse.Namespace, config,
                   fix: str) -> None:
    """A mixture of experts (or a model with blocks of another token mixer: `undecoded_kind`)
    as --arch refused with what it cannot take, its width model or the compiled backend,
    before a model of tens of GB is built (gpu_check, paired_check); `fix`: the script's
    options that time it."""
    kind = undecoded_kind(config)
    if kind is None:
        return
    moe = is_moe(config)
    refused_parts = []
    if "width" in args.variants.split(","):
        refused_parts.append("--variants width (no width surgery prunes "
                             + ("experts)" if moe else "those blocks)"))
    if "compiled" in args.backends.split(","):
        refused_parts.append("--backends compiled (its fused blocks compute "
                             + ("a dense MLP)" if moe else "softmax attention)"))
    if refused_parts:
        parser.error(f"--arch {args.arch} is {kind} ({config.model_type}), which "
                     f"takes neither {' nor '.join(refused_parts)}: time it with {fix}")
