"""Sizing a prune from the model's config alone: how many blocks a depth method removes, the
uniform ratio a width method solves, and each method's `plan`.

No torch here: `prunebench plan` sizes whole configs with this module, and importing torch
would cost it seconds for arithmetic on a config. A method's module (which does import torch)
takes what its prune shares with its plan from here, and has its plan as `plan`
(`registry.method_plan` finds it here: `plan_<method>`).

`config` is a transformers config or any object with the same attributes
(`param_count.config_from_dict`); the counts are `checkpoint.param_count`'s closed forms.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint.param_count import (INKLING2_GROUPS, aligned_periods, block_count,
                                               block_param_count, block_passes, block_reads,
                                               broken_reads,
                                               count_params, depth_kept_blocks, depth_needed_kinds,
                                               depth_removed_params,
                                               depth_needed_least,
                                               family, head_dim, jamba_period,
                                               head_shards, heads_removable, kv_heads,
                                               kv_head_count, kolibri1_1_sources,
                                               layer_shapes, mlp_bias, o_bias, refuse_moe,
                                               text_blocks, whole_period, zamba2_hybrid_ids,
                                               zamba2_shifted)
from prunebench.methods import registry
from prunebench.plan.sizes import format_params, parse_size

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- whole blocks

def removable_blocks(n_blocks: int, protect_first: int, protect_last: int,
                     kept: Sequence[int] = ()) -> list[int]:
    """The blocks a depth method may remove: those the protection leaves, but the ones the
    model's family keeps (`kept`: param_count.depth_kept_blocks, Gemma 4's and
    Nemotron-H's)."""
    if protect_first < 0 or protect_last < 0 or protect_first + protect_last >= n_blocks:
        raise PrunebenchError(
            f"protect_first={protect_first} and protect_last={protect_last} leave no removable "
            f"block out of {n_blocks}: lower them (0 and 0 switch the protection off)")
    blocks = [b for b in range(protect_first, n_blocks - protect_last) if b not in kept]
    if not blocks:
        raise PrunebenchError(
            f"protect_first={protect_first} and protect_last={protect_last} leave no removable "
            f"block out of {n_blocks} beside the blocks the model needs kept ({sorted(kept)}: "
            "Gemma 4's last block and the blocks whose keys and values later blocks reuse, "
            "Nemotron-H's first): lower them (0 and 0 switch the protection off)")
    return blocks


def depth_removable(config, protect_first: int, protect_last: int) -> list[int]:
    """The blocks a depth method may remove from a model of this config: `removable_blocks`
    (the protection, param_count.depth_kept_blocks), less each block that a block they leave
    (protected or needed) reads, Kolibri-1.1's keys' and candidate pools' sources
    (param_count.broken_reads: a source goes only with all its readers). Every number of these
    blocks can go so (from the last back: a block reads only blocks before it)."""
    blocks = removable_blocks(block_count(config), protect_first, protect_last,
                              depth_kept_blocks(config))
    read: set[int] = set()
    while broken := broken_reads(config, blocks):  # (a source read by a kept reader stays)
        read |= {source for _, source, _ in broken}
        blocks = [b for b in blocks if b not in read]
    if not blocks:
        raise PrunebenchError(
            f"protect_first={protect_first} and protect_last={protect_last} leave no removable "
            f"block out of {block_count(config)}: the blocks {sorted(read)} they leave "
            "removable are read by blocks they protect (their keys and values, candidate "
            "pool or per-layer embedding rank), so stay: lower them (0 and 0 switch the "
            "protection off)")
    return blocks


def solve_num_blocks(config, target_params: int, removable: list[int],
                     method: str | None = None) -> int:
    """How many blocks to remove so the size is closest to the target (ties: fewer removed).

    Removes the largest removable blocks first when sizing, which is exact for homogeneous models.
    Jamba's and Inkling 2's are sized in whole periods (`solve_whole_periods`); a model's whose
    removable blocks differ in size (Zamba2's, Kolibri-1.1's, a dense block before sparse ones,
    attention beside Mamba blocks: `sized_by_mix`) by the mix of blocks the depth method
    `method` can remove (`depth_mix`; None: a one-shot criterion's).
    """
    if whole_period(config):
        return solve_whole_periods(config, target_params, removable)
    if sized_by_mix(config, removable):
        return sum(depth_mix(config, target_params, removable, method))
    if kolibri1_1_sources(config):  # (past READERS_CHOICE_MOST: the largest blocks first)
        log.warning("this Kolibri-1.1 model's blocks read by others make more than %d sets of "
                    "sources to try (sizing.READERS_CHOICE_MOST), so its depth plan sizes the "
                    "largest removable blocks first, not how many of each size go "
                    "(sizing.depth_mix): a criterion choosing smaller blocks or readers may "
                    "prune to a larger size than the plan's", READERS_CHOICE_MOST)
    elif several_sizes(config, removable):  # (past MIXES_MOST: the largest blocks first)
        log.warning("this model's removable blocks of %d sizes and kinds make more than %d "
                    "mixes to try (sizing.MIXES_MOST), so its depth plan sizes the largest "
                    "removable blocks first, not how many of each size go (sizing.depth_mix): "
                    "a criterion choosing smaller blocks may prune to a larger size than the "
                    "plan's", len(size_groups(config, removable)), MIXES_MOST)
    shapes = layer_shapes(config)
    sizes = [block_param_count(config, shapes[i]) for i in largest_first(config, removable)]
    total = count_params(config)
    best_k, best_gap = 0, abs(total - target_params)
    for k, size in enumerate(sizes, start=1):
        total -= size
        if abs(total - target_params) < best_gap:
            best_k, best_gap = k, abs(total - target_params)
    if best_k == 0 and target_params < count_params(config):
        raise PrunebenchError(
            f"target {target_params:,} params is closer to the dense model than to removing one "
            "block: depth pruning cannot reach it; choose a smaller target")
    smallest = count_params(config) - sum(sizes)
    if target_params < smallest - (sizes[-1] if sizes else 0) / 2:
        protected = len(removable) < block_count(config)
        raise PrunebenchError(
            f"target {target_params:,} params is below {smallest:,}, the size with every removable "
            f"block gone (embeddings{' and protected blocks' if protected else ''} stay): choose "
            "a larger target" + (" or protect fewer blocks (protect_first / protect_last)"
                                 if protected else "")
            + staying_note(config, removable))
    if best_k >= block_count(config):
        raise PrunebenchError(
            f"target {target_params:,} params would remove every block, leaving no model: "
            "choose a larger target")
    return best_k


def staying_note(config, removable: Sequence[int]) -> str:
    """What a refusal of a target below the smallest size says of the blocks that stay though
    not protected: those the model needs, and those blocks kept read."""
    return ((f"; blocks {needed} stay whatever the protection: the model needs them "
             "(depth_kept_blocks)" if (needed := depth_kept_blocks(config)) else "")
            + (f"; blocks {read} stay while blocks kept read them (their keys and values, "
               "candidate pool or per-layer embedding rank: param_count.broken_reads)" if (
                   read := [
                   b for b in range(block_count(config))
                   if b not in removable and broken_reads(config, [*removable, b])]) else ""))


def largest_first(config, removable: Sequence[int]) -> list[int]:
    """The removable blocks, largest first (a plan's sizing takes the first k; a model's
    whose removable blocks differ in size is sized by `depth_mix`: `sized_by_mix`)."""
    shapes = layer_shapes(config)
    return sorted(removable, key=lambda b: (-block_param_count(config, shapes[b]), b))


def sized_by_mix(config, removable: Sequence[int]) -> bool:
    """Whether a depth plan of this model sizes how many blocks of each class go
    (`mix_classes`, `depth_mix`) rather than a number of blocks, largest first: a Zamba2
    model's (hybrid and Mamba blocks, in whole cycles), a Kolibri-1.1 model's (blocks of
    three sizes, a source going only with its readers) and any other model's whose
    `removable` blocks differ in size (dense blocks before sparse ones, attention blocks
    beside Mamba or linear-attention ones: `size_mixes`), where which blocks a criterion
    chooses changes the size of as many blocks. Not a Jamba or Inkling 2 model's (whole
    periods alike: `solve_whole_periods`), nor where the mixes are not enumerated: a
    Kolibri-1.1 model whose sources among `removable` make more than READERS_CHOICE_MOST
    sets closed under reading (`readers_closed`), a model whose blocks' sizes and kinds make
    more than MIXES_MOST mixes to try (`size_groups`); the plan then sizes the largest blocks
    first, with a warning (`solve_num_blocks`)."""
    model_type = getattr(config, "model_type", None)
    if model_type == "kolibri1_1":
        return readers_closed(config, removable, block_count(config)) is not None
    if model_type == "zamba2":
        return True
    if not several_sizes(config, removable):
        return False
    groups = size_groups(config, removable)
    return mix_count(groups) <= MIXES_MOST and reads_by_group(config, groups)


def reads_by_group(config, groups: dict[tuple[int, tuple[int, ...]], list[int]]) -> bool:
    """Whether the blocks that read others and those read (param_count.block_reads: a
    Qwen4-Exp model's per-layer embedding blocks, each table of a size of its own) are each a
    group of
    `size_groups` alone, so that whether a removal of so many blocks of each group may go
    does not depend on which blocks it takes (`counts_allowed`). Where a group of several
    holds one, counts say nothing of the reads: the plan sizes the largest blocks first."""
    read = {b for reader, source, _ in block_reads(config) for b in (reader, source)}
    return all(len(blocks) == 1 for blocks in groups.values() if read & set(blocks))


def several_sizes(config, removable: Sequence[int]) -> bool:
    """Whether the `removable` blocks differ in size, in a family whose depth prunes remove
    blocks one by one (`whole_period`: Jamba's and Inkling 2's periods are alike)."""
    shapes = layer_shapes(config)
    return (not whole_period(config)
            and len({block_param_count(config, shapes[b]) for b in removable}) > 1)


# The most mixes (counts of blocks of each size and needed kind: `size_groups`) a depth plan
# of blocks of several sizes tries (`size_mixes`): the known shapes make at most 833
# (Qwen3.5-27B's language model, a plan in under a second), a Nemotron-H layout of 50 Mamba-2,
# 51 MLP and 4 attention blocks 13,260 (about two seconds a plan); a hand-written layout of
# many sizes could make millions. Past it the plan sizes the largest blocks first
# (`sized_by_mix`), and says so.
MIXES_MOST = 100_000


def size_groups(config, removable: Sequence[int]) -> dict[tuple[int, tuple[int, ...]],
                                                            list[int]]:
    """The `removable` blocks in groups of blocks alike for a depth plan: of one size class
    (`mix_classes`) and in the same kinds the model needs a block of
    (param_count.depth_needed_kinds, by their index there): (class, kinds) -> its blocks, in
    order. Any removal of as many blocks of each group takes as many parameters and leaves as
    many of each needed kind, so a mix of group counts is allowed or not whichever blocks
    make it (`may_remove`: in a family other than Zamba2's and Kolibri-1.1's, whose blocks
    no block reads)."""
    classes, kinds = mix_classes(config), depth_needed_kinds(config)
    groups: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    for b in removable:
        key = (classes[b], tuple(i for i, (_, blocks, _) in enumerate(kinds) if b in blocks))
        groups.setdefault(key, []).append(b)
    return groups


def mix_count(groups: dict[Any, list[int]]) -> int:
    """How many counts of blocks of each group (`size_groups`) there are to try."""
    return math.prod(len(blocks) + 1 for blocks in groups.values())


def counts_allowed(config, groups: dict[tuple[int, tuple[int, ...]], list[int]]
                   ) -> Callable[[Sequence[int]], bool]:
    """Whether removing so many blocks of each of `groups` (`size_groups`, in order) leaves a
    block (the model is not removed whole), `depth_needed_least` blocks of each kind the
    model needs (`leaves_each_kind`, by counts) and every block a kept block reads
    (param_count.broken_reads, on each group's first blocks: the blocks of reads are groups
    alone where a plan is sized by mix, `reads_by_group`): a test of counts, each kind's room
    worked out once."""
    least, n = depth_needed_least(config), block_count(config)
    rooms = [([g for g, (_, in_kinds) in enumerate(groups) if i in in_kinds], len(blocks) - least)
             for i, (_, blocks, _) in enumerate(depth_needed_kinds(config)) if blocks]
    members = list(groups.values())

    def reads_kept(counts) -> bool:
        return not broken_reads(config, [b for blocks, m in zip(members, counts)
                                         for b in blocks[:m]])

    reads = bool(block_reads(config))
    return lambda counts: sum(counts) < n and all(
        sum(counts[g] for g in in_kind) <= room for in_kind, room in rooms) and (
            not reads or reads_kept(counts))


def size_mixes(config, removable: Sequence[int]) -> dict[tuple[int, ...], tuple[int, ...]]:
    """For each mix (how many blocks of each size class of `mix_classes`) a depth prune of a
    model whose blocks differ in size can remove among `removable`, a block of each kind it
    needs left (`size_groups`, `counts_allowed`), one such removal: mix -> its blocks
    (each group's first). Counts, not subsets: blocks of one group are interchangeable, so
    the mixes are the allowed counts per group, summed per class."""
    groups, classes = size_groups(config, removable), mix_classes(config)
    width, mixes, allowed = max(classes) + 1, {}, counts_allowed(config, groups)
    for counts in itertools.product(*(range(len(blocks) + 1) for blocks in groups.values())):
        if allowed(counts):
            mix = [0] * width
            for (cls, _), m in zip(groups, counts):
                mix[cls] += m
            if tuple(mix) not in mixes:  # (one removal a mix: each group's first blocks)
                mixes[tuple(mix)] = tuple(sorted(
                    b for blocks, m in zip(groups.values(), counts) for b in blocks[:m]))
    return mixes


def size_removal(config, removable: Sequence[int], scores: Sequence[float],
                 mix: tuple[int, ...], must=()) -> list[int] | None:
    """Of the removals of `mix` blocks of each size class (`mix_classes`) among `removable`
    that may go (`size_groups`, `counts_allowed`) and hold the blocks `must`, the one
    whose `scores` sum least (ties: the lower block numbers); None where none. Exact: blocks
    of one group are interchangeable but for their scores, so for each split of the mix among
    the groups of each class (one split where the needed kinds follow the sizes) each group's
    least-scored blocks go, `must`'s first."""
    groups, must = size_groups(config, removable), set(must)
    allowed = counts_allowed(config, groups)
    if not must <= set(removable):
        return None
    splits = []  # per class, the counts of its groups (in order) that make the mix's count
    for cls, wanted in enumerate(mix):
        sizes = [len(blocks) for (c, _), blocks in groups.items() if c == cls]
        splits.append([split for split in itertools.product(*(range(s + 1) for s in sizes))
                       if sum(split) == wanted])
    options = []
    for per_class in itertools.product(*splits):
        split_of = {cls: iter(split) for cls, split in enumerate(per_class)}
        counts = [next(split_of[cls]) for cls, _ in groups]
        if not allowed(counts):
            continue
        removed: list[int] = []
        for blocks, m in zip(groups.values(), counts):
            held = [b for b in blocks if b in must]
            if len(held) > m:
                break
            rest = sorted((b for b in blocks if b not in held), key=lambda b: (scores[b], b))
            removed += held + rest[:m - len(held)]
        else:
            options.append((sum(scores[b] for b in removed), sorted(removed)))
    return min(options)[1] if options else None


def size_choice(config, removable: Sequence[int], scores: Sequence[float],
                mix: tuple[int, ...]) -> list[int]:
    """The blocks a one-shot criterion removes from a model whose blocks differ in size: of
    the removals of the plan's `mix` (`depth_mix`) that may go, the one whose scores (lower:
    less important) sum least (`size_removal`), so that the pruned size is the plan's."""
    removed = size_removal(config, removable, scores, mix)
    if removed is None:  # (depth_mix plans only mixes a removal makes)
        raise PrunebenchError(
            f"no removal of {mix} blocks of each size (sizing.depth_mix) among the removable "
            f"blocks {list(removable)} leaves this {family_words(config)} a block of each "
            "kind it needs: choose another target")
    return removed


def mix_choice(config, removable: Sequence[int], scores: Sequence[float], k: int,
               target_params: int) -> list[int] | None:
    """The k blocks a one-shot criterion removes from a model sized by mix (`sized_by_mix`)
    but Zamba2's (`zamba2_choice`): of the removals of the plan's mix for this target
    (`planned_mix`) that may go, the one whose scores sum least (`readers_choice` where a
    Kolibri-1.1 model's blocks read others', `size_choice` else). None where its plan sizes
    blocks otherwise (the criterion then chooses by ranking: `kind_keeping_choice`)."""
    mix = planned_mix(config, target_params, removable)
    if kolibri1_1_sources(config):  # (past READERS_CHOICE_MOST: None)
        return readers_choice(config, removable, scores, k, mix)
    return None if mix is None else size_choice(config, removable, scores, mix)


def family_words(config) -> str:
    """How a depth plan's refusals name the model: "'zamba2' model (Zamba2ForCausalLM)"."""
    return f"{getattr(config, 'model_type', None)!r} model ({family(config).model_class})"


def mix_classes(config) -> list[int]:
    """Per block, its class in a depth plan's mix (`depth_mix`): a Zamba2 model's hybrid
    blocks 0, its Mamba blocks 1; any other model's blocks by their size, the largest 0
    (Kolibri-1.1's sparse blocks with their own keys, those reading another's, its dense
    blocks; a hybrid's attention and Mamba blocks; `class_sizes`): any removal of as many
    blocks of each class takes as many parameters (param_count.depth_removed_params)."""
    if getattr(config, "model_type", None) == "zamba2":
        hybrid = set(zamba2_hybrid_ids(config))
        return [0 if b in hybrid else 1 for b in range(block_count(config))]
    sizes = [block_param_count(config, shape) for shape in layer_shapes(config)]
    ranks = {size: rank for rank, size in enumerate(sorted(set(sizes), reverse=True))}
    return [ranks[size] for size in sizes]


def class_counts(classes: Sequence[int], blocks, width: int | None = None) -> tuple[int, ...]:
    """How many of the blocks `blocks` each class of `classes` (`mix_classes`) holds, for
    `width` classes (where None, as many as `classes` names)."""
    width = max(classes) + 1 if width is None else width
    return tuple(sum(classes[b] == c for b in set(blocks)) for c in range(width))


def mix_width(config, classes: Sequence[int]) -> int:
    """How many classes a mix of this model counts: a Zamba2 model's two (hybrid, Mamba), even
    where it has no Mamba block (`zamba2_mixes` always counts both); else those of `classes`."""
    return 2 if getattr(config, "model_type", None) == "zamba2" else max(classes) + 1


def removal_mixes(config, removable: Sequence[int]) -> dict[tuple[int, ...], tuple[int, ...]]:
    """For each mix (how many blocks of each class of `mix_classes`) a depth prune of a model
    sized by mix (`sized_by_mix`) can remove among `removable`, one such removal: mix -> its
    blocks (`zamba2_mixes`, `readers_mixes`, `size_mixes`)."""
    if getattr(config, "model_type", None) == "zamba2":
        return zamba2_mixes(config, removable)
    if getattr(config, "model_type", None) == "kolibri1_1":
        return readers_mixes(config, removable)
    return size_mixes(config, removable)


def zamba2_mixes(config, removable: Sequence[int]) -> dict[tuple[int, int], tuple[int, ...]]:
    """For each number c of a Zamba2 model's hybrid blocks (in whole cycles:
    `zamba2_hybrid_removals`) and m of its Mamba blocks that a depth prune can remove among
    `removable`, one such removal: (c, m) -> its blocks. Any removal of as many of each kind
    takes as many parameters (param_count.depth_removed_params: the blocks, and each shared
    block no kept hybrid block runs), whichever blocks the criterion chooses."""
    hybrid = set(zamba2_hybrid_ids(config))
    mamba = [b for b in removable if b not in hybrid]
    cycles = zamba2_hybrid_removals(config, removable, [0.0] * block_count(config))
    return {(c, m): (*taken, *mamba[:m]) for c, (_, taken) in cycles.items()
            for m in range(len(mamba) + 1)}


def readers_mixes(config, removable: Sequence[int]) -> dict[tuple[int, ...], tuple[int, ...]]:
    """For each mix of a Kolibri-1.1 model's block sizes (`mix_classes`) that a depth prune
    can remove among `removable` (a source with all its readers: `readers_closed`, and any
    blocks no block reads), leaving a block, one such removal: mix -> its blocks."""
    classes, n = mix_classes(config), block_count(config)
    mixes: dict[tuple[int, ...], tuple[int, ...]] = {}
    closed = enumerated_closed(config, removable, n)  # (sized_by_mix: plans within the bound)
    seen = set()
    for forced, unread in closed:
        spare = [[b for b in unread if b not in forced and classes[b] == c]
                 for c in range(max(classes) + 1)]
        key = (class_counts(classes, forced), tuple(map(len, spare)))
        if key in seen:  # (the same mixes as an earlier set's: many sources, few sizes)
            continue
        seen.add(key)
        for extra in itertools.product(*(range(len(blocks) + 1) for blocks in spare)):
            removed = (*sorted(forced), *(b for blocks, m in zip(spare, extra)
                                          for b in blocks[:m]))
            if len(removed) < n:
                mixes.setdefault(class_counts(classes, removed), removed)
    return mixes


def method_mixes(config, removable: Sequence[int], method: str | None = None,
                 mixes: dict[tuple[int, ...], tuple[int, ...]] | None = None
                 ) -> dict[tuple[int, ...], tuple[int, ...]]:
    """For each mix (`removal_mixes`, or `mixes` where its caller has them) the depth method
    `method` can remove among `removable`, one such removal: mix -> its blocks. A one-shot
    criterion (None: depth_ppl, depth_taylor, depth_mag, shortgpt) chooses any removal, so any
    mix; SLEB's rounds reach every mix of a Kolibri-1.1 model (a source once its readers have
    gone) but of a Zamba2 model's hybrid blocks only as many as one a round can take
    (`one_by_one_most`); depth_angular removes one run of consecutive removable blocks that may
    go (`run_mixes`)."""
    if method == "depth_angular":
        return run_mixes(config, removable)
    if mixes is None:
        mixes = removal_mixes(config, removable)
    if method == "sleb" and getattr(config, "model_type", None) == "zamba2":
        reach = one_by_one_hybrid_most(config, removable)
        mixes = {mix: blocks for mix, blocks in mixes.items() if mix[0] <= reach}
    return mixes


def run_mixes(config, removable: Sequence[int]) -> dict[tuple[int, ...], tuple[int, ...]]:
    """For each mix (`mix_classes`) of a run of consecutive removable blocks that may go
    (`may_remove`), a block left, one such run (the first): mix -> its blocks; the removal of
    nothing too. depth_angular removes such a run."""
    classes, free, n = mix_classes(config), set(removable), block_count(config)
    width = mix_width(config, classes)
    mixes: dict[tuple[int, ...], tuple[int, ...]] = {class_counts(classes, (), width): ()}
    for start in removable:
        end = start + 1
        while end - 1 in free and end - start < n:
            if may_remove(config, range(start, end)):
                mixes.setdefault(class_counts(classes, range(start, end), width),
                                 tuple(range(start, end)))
            end += 1
    return mixes


def depth_mix(config, target_params: int, removable: Sequence[int],
              method: str | None = None) -> tuple[int, ...]:
    """How many blocks of each class (`mix_classes`: a Zamba2 model's hybrid and Mamba blocks,
    any other model's blocks of each size) a depth prune by `method` removes: of the mixes it
    can make (`method_mixes`; None: a one-shot criterion's, any of `removal_mixes`), the one
    whose removal brings the size closest to the target (ties: fewer blocks, then fewer of the
    first classes, the hybrid or larger blocks). A Zamba2 hybrid block is larger than a Mamba
    block, and removing hybrid blocks below num_mem_blocks kept takes shared blocks too; a
    Kolibri-1.1 block reading another's keys has no k/v projections, a DeepSeek-V3 model's
    dense blocks no experts, a hybrid's attention blocks other weights than its Mamba ones: a
    number of blocks alone does not say the size. The plan says the mix, and every criterion
    removes so many of each class (its scores choose which), so the size it reaches is the
    plan's; a mix the method cannot make is never planned (SLEB's rounds or depth_angular's
    run would have none to take, where another mix lands near the target)."""
    total, removals = count_params(config), removal_mixes(config, removable)
    every = mix_sizes(config, removals)
    # (any removal of a mix takes as many parameters; a run's mix is a removal's that may go)
    sizes = {mix: every[mix] for mix in method_mixes(config, removable, method, removals)}
    mix = min(sizes, key=lambda m: (abs(sizes[m] - target_params), sum(m), m))
    if not any(mix) and target_params < total:
        raise PrunebenchError(
            f"target {target_params:,} params is closer to the dense model than to removing one "
            "block: depth pruning cannot reach it; choose a smaller target")
    smallest = min(every.values())
    step = min((size - smallest for size in every.values() if size > smallest), default=0)
    if target_params < smallest - step / 2:
        raise PrunebenchError(
            f"target {target_params:,} params is below {smallest:,}, the smallest size a depth "
            f"prune of this {family_words(config)} reaches (its removable blocks "
            f"{list(removable)} gone{what_stays(config)}): choose a larger target or protect "
            "fewer blocks (protect_first / protect_last)" + staying_note(config, removable))
    # (below the smallest size the method reaches, and nearer one only other criteria reach)
    reached, nearest = min(sizes.values()), min(every.values(),
                                                 key=lambda size: abs(size - target_params))
    if target_params < reached and abs(nearest - target_params) < reached - target_params:
        why, instead = method_reach(config, removable, method)
        raise PrunebenchError(
            f"target {target_params:,} params is below {reached:,}, the smallest size a depth "
            f"prune by {method} of this {family_words(config)} reaches ({why}), and nearer "
            f"{nearest:,}, which other depth criteria reach: choose a larger target or protect "
            f"fewer blocks (protect_first / protect_last){instead}")
    return mix


def class_sizes(config) -> list[int]:
    """The parameters of a block of each size class of `mix_classes` (but a Zamba2 model's,
    classed by kind): the blocks' sizes, the largest first."""
    return sorted({block_param_count(config, shape) for shape in layer_shapes(config)},
                  reverse=True)


def mix_sizes(config, removals: dict[tuple[int, ...], tuple[int, ...]]
              ) -> dict[tuple[int, ...], int]:
    """The model's size without each removal of `removals` (`removal_mixes`): mix -> size.
    Any removal of a mix takes as many parameters (param_count.depth_removed_params): a
    Zamba2 model's counted on the removal (its shared blocks no kept hybrid block runs go
    too), any other's as its blocks of each size (`class_sizes`), without counting each."""
    total = count_params(config)
    if getattr(config, "model_type", None) == "zamba2":
        return {mix: total - depth_removed_params(config, blocks)
                for mix, blocks in removals.items()}
    sizes = class_sizes(config)
    return {mix: total - sum(m * size for m, size in zip(mix, sizes)) for mix in removals}


def what_stays(config) -> str:
    """What a refusal of a target below the smallest size a depth plan by mix reaches
    (`depth_mix`) says stays of the removable blocks besides one block."""
    if getattr(config, "model_type", None) == "zamba2":
        return (f" but for a hybrid block, in whole cycles of num_mem_blocks="
                f"{config.num_mem_blocks}; embeddings and shared blocks stay")
    if getattr(config, "model_type", None) == "kolibri1_1":
        return ", a source only with all its readers, a block left; embeddings stay"
    least = depth_needed_least(config)
    kinds = " and ".join(f"{'one' if least == 1 else least} of its {name} blocks {blocks} ({why})"
                         for name, blocks, why in depth_needed_kinds(config) if blocks)
    return (f" but {kinds}" if kinds else "") + ", a block left; embeddings stay"


def method_reach(config, removable: Sequence[int], method: str | None) -> tuple[str, str]:
    """What a refusal of a target below the smallest size `method` reaches, and nearer a
    size a one-shot criterion reaches, says (`depth_mix`): (why it reaches no further, which
    criteria do)."""
    if method == "depth_angular":
        return (f"it removes one run of consecutive removable blocks among {list(removable)} "
                "that may go, a block left: sizing.may_remove, run_mixes",
                ", or use a criterion that removes blocks apart (depth_ppl, sleb, shortgpt)")
    hybrid = sorted(set(zamba2_hybrid_ids(config)) & set(removable))
    return (f"it removes one block a round, and of the removable hybrid blocks {hybrid} its "
            f"rounds can remove {one_by_one_hybrid_most(config, removable)}, from the last "
            "one kept back: hybrid blocks go in whole cycles of "
            f"num_mem_blocks={config.num_mem_blocks}, and a round's removal of another would "
            "hand the later ones other shared blocks",
            ", or use a one-shot criterion (depth_ppl, depth_taylor, depth_mag, shortgpt), "
            "which removes whole cycles")


def zamba2_hybrid_removals(config, removable: Sequence[int], scores: Sequence[float]
                           ) -> dict[int, tuple[float, tuple[int, ...]]]:
    """For each number c of a Zamba2 model's hybrid blocks that a depth prune can remove among
    `removable` (in whole cycles: param_count.zamba2_shifted; one hybrid block kept,
    param_count.depth_needed_kinds), the removal of c whose `scores` (one a block) sum least:
    c -> (the sum, the blocks). Exact, by dynamic programming over the hybrid blocks in order,
    whose state is the number removed so far: a block may be kept only where those before it
    are a whole number of cycles."""
    cycle, free, hybrid = config.num_mem_blocks, set(removable), zamba2_hybrid_ids(config)
    best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for block in hybrid:
        row: dict[int, tuple[float, tuple[int, ...]]] = {}
        for c, (total, taken) in best.items():
            moves = []
            if c % cycle == 0:  # kept: the hybrid blocks removed before it are whole cycles
                moves.append((c, (total, taken)))
            if block in free:
                moves.append((c + 1, (total + scores[block], (*taken, block))))
            for c_next, candidate in moves:
                if c_next not in row or candidate[0] < row[c_next][0]:
                    row[c_next] = candidate
        best = row
    return {c: value for c, value in sorted(best.items()) if c < len(hybrid)}


def zamba2_counts(config, removable: Sequence[int]) -> list[int]:
    """The numbers of blocks a depth prune of a Zamba2 model can remove among `removable`:
    any of its removable Mamba blocks with a number of hybrid blocks that whole cycles make."""
    hybrid = set(zamba2_hybrid_ids(config))
    mamba = len([b for b in removable if b not in hybrid])
    cycles = zamba2_hybrid_removals(config, removable, [0.0] * block_count(config))
    return sorted({c + a for c in cycles for a in range(mamba + 1)})


def planned_mix(config, target_params: int, removable: Sequence[int],
                method: str | None = None) -> tuple[int, ...] | None:
    """The mix of blocks a depth prune by `method` of a model sized by mix (`sized_by_mix`:
    Zamba2's, Kolibri-1.1's, any whose removable blocks differ in size) removes for this
    target (`depth_mix`), which every criterion keeps to (the one-shot ones by the least sum
    of that mix, SLEB's rounds and depth_angular's run: `within_counts`); None in other
    models."""
    if not sized_by_mix(config, removable):
        return None
    return depth_mix(config, target_params, removable, method)


def within_counts(config, removable: Sequence[int], removed,
                  mix: tuple[int, ...] | None) -> bool:
    """Whether the blocks `removed` hold at most as many blocks of each class as `mix`
    (`planned_mix`; always where None); of a model other than Zamba2's, whether they are part
    of a removal of that mix among `removable` that may go (`readers_removal`, `size_removal`:
    a block of each kind the model needs left), so that SLEB's rounds never take a block that
    leaves the mix out of reach."""
    if mix is None:
        return True
    zeros = [0.0] * block_count(config)
    if getattr(config, "model_type", None) == "kolibri1_1":
        return readers_removal(config, removable, zeros, sum(mix), mix, removed) is not None
    if getattr(config, "model_type", None) != "zamba2":
        return size_removal(config, removable, zeros, mix, removed) is not None
    return all(have <= most for have, most in zip(class_counts(mix_classes(config), removed),
                                                  mix))


def zamba2_choice(config, removable: Sequence[int], scores: Sequence[float],
                  k: int, hybrid_count: int | None = None) -> list[int]:
    """The k blocks a one-shot criterion removes from a Zamba2 model: Mamba blocks and hybrid
    blocks in whole cycles (`zamba2_hybrid_removals`), `hybrid_count` of them hybrid where
    given (the plan's: `depth_mix`), whose scores (lower: less important) sum to the least of
    any such removal (exact: the least-scored Mamba blocks with each number of hybrid blocks'
    best cycles; ties: fewer hybrid blocks). With num_mem_blocks 1, the least-scored hybrid
    blocks but one kept, as other hybrids'."""
    hybrid = set(zamba2_hybrid_ids(config))
    mamba = sorted((b for b in removable if b not in hybrid), key=lambda b: (scores[b], b))
    options = [(total + sum(scores[b] for b in mamba[:k - c]), c, sorted([*taken, *mamba[:k - c]]))
               for c, (total, taken) in zamba2_hybrid_removals(config, removable, scores).items()
               if 0 <= k - c <= len(mamba) and hybrid_count in (None, c)]
    if not options:  # (check_kinds_left refuses such a plan before any scoring)
        raise PrunebenchError(
            f"no removal of {k} of the removable blocks {list(removable)} of this Zamba2 model "
            "keeps its hybrid blocks in whole cycles and one of them: choose a larger target")
    return min(options)[2]


# The most sets of a Kolibri-1.1 model's sources closed under reading `readers_closed` builds:
# the published layout's three sources make at most eight, but a config with s independent
# sources makes up to 2**s (a hand-written one of 24 would take minutes and gigabytes), and the
# least sum of a removal closed under reading is no easier in general. Past it a depth plan
# sizes the largest blocks first (`sized_by_mix`) and the one-shot criteria choose by ranking.
READERS_CHOICE_MOST = 4096


def readers_closed(config, removable: Sequence[int],
                   most: int) -> list[tuple[set[int], list[int]]] | None:
    """The removals of a Kolibri-1.1 model's sources among `removable` that may go together,
    each with all its readers (a source's sources among its readers go with it: the published
    layout's three sources make at most eight), of at most `most` blocks: (the blocks they
    take, with their readers: `with_readers`; the removable blocks no block reads, which may go
    alone). Every removal that may go is one of these with some of those unread blocks. None,
    at once, where there are more than READERS_CHOICE_MOST of them."""
    free = set(removable)
    sources = sorted({source for _, source, _ in kolibri1_1_sources(config) if source in free},
                     reverse=True)  # (readers first: a block reads only blocks before it)
    units = {source: with_readers(config, source) for source in sources}
    closed: list[tuple[set[int], set[int]]] = [(set(), set())]  # (sources, all they take)
    for source in sources:  # (its readers that are sources came before it)
        closed += [({*taken, source}, forced | units[source]) for taken, forced in closed
                   if units[source] & set(sources) <= {*taken, source}
                   and len(forced | units[source]) <= most]
        if len(closed) > READERS_CHOICE_MOST:
            return None
    unread = [b for b in removable if b not in units]
    return [(forced, unread) for _, forced in closed]


def enumerated_closed(config, removable: Sequence[int],
                      most: int) -> list[tuple[set[int], list[int]]]:
    """`readers_closed`, refused where past READERS_CHOICE_MOST (its callers check first:
    `sized_by_mix`, `readers_choice`)."""
    closed = readers_closed(config, removable, most)
    if closed is None:
        raise PrunebenchError(
            f"this Kolibri-1.1 model's sources make more than {READERS_CHOICE_MOST} sets to try "
            "(sizing.READERS_CHOICE_MOST): its removals are not enumerated; its plan sizes the "
            "largest blocks first and its criteria choose by ranking (sizing.kind_keeping_choice)")
    return closed


def readers_removal(config, removable: Sequence[int], scores: Sequence[float], k: int,
                    mix: tuple[int, ...] | None = None, must=(),
                    closed: list[tuple[set[int], list[int]]] | None = None) -> list[int] | None:
    """Of the removals of k of a Kolibri-1.1 model's `removable` blocks that may go
    (`may_remove`), `mix` blocks of each class where given (`mix_classes`: the plan's,
    `depth_mix`) and holding the blocks `must`, the one whose scores sum least (ties: the lower
    block numbers); None where none. Exact: each removal is a set of sources closed under
    reading with their readers (`readers_closed`) and blocks no block reads, so with each set
    the least-scored unread blocks of each class fill up to the mix. Its callers keep within
    READERS_CHOICE_MOST sets (`sized_by_mix`, `readers_choice`, which passes the sets it
    enumerated as `closed`)."""
    if closed is None:
        closed = enumerated_closed(config, removable, k)
    classes = mix_classes(config) if mix is not None else [0] * block_count(config)
    wanted = mix if mix is not None else (k,)
    options = []
    for forced, unread in closed:
        taken = forced | set(must)
        fill = sorted((b for b in unread if b not in taken), key=lambda b: (scores[b], b))
        need = [m - have for m, have in zip(wanted, class_counts(classes, taken))]
        if min(need) < 0:
            continue
        removed = sorted(taken | {b for c, m in enumerate(need)
                                  for b in [b for b in fill if classes[b] == c][:m]})
        if len(removed) == k and may_remove(config, removed):
            options.append((sum(scores[b] for b in removed), removed))
    return min(options)[1] if options else None


def readers_choice(config, removable: Sequence[int], scores: Sequence[float], k: int,
                   mix: tuple[int, ...] | None = None) -> list[int] | None:
    """The k blocks a one-shot criterion removes from a Kolibri-1.1 model, whose sources go
    only with all their readers (param_count.broken_reads), `mix` blocks of each size where
    given (the plan's: `depth_mix`): of the removals that may go, the one whose scores (lower:
    less important) sum least (`readers_removal`). A greedy choice by ranking
    (`kind_keeping_choice`) can keep a cheaper source whose readers rank high for a dearer
    block. None where more than READERS_CHOICE_MOST sets of sources would be tried (no mix
    then: the plan sized the largest blocks first; the caller chooses greedily, and says so)."""
    if (closed := readers_closed(config, removable, k)) is None:
        return None
    removed = readers_removal(config, removable, scores, k, mix, closed=closed)
    if removed is None:  # (check_kinds_left and depth_mix refuse such a plan before scoring)
        raise PrunebenchError(
            f"no removal of {k} of the removable blocks {list(removable)} of this Kolibri-1.1 "
            "model takes each source with all its readers"
            + (f" and {mix} blocks of each size (sizing.depth_mix)" if mix else "")
            + ": choose a larger target")
    return removed


def one_by_one_most(config, removable: Sequence[int]) -> int:
    """How many of the `removable` blocks a criterion that removes one block a round (SLEB)
    can remove, each round's removal allowed (`may_remove`): all but where a Zamba2
    model's hybrid blocks (one kept), which go in cycles: of more than one, a round can take
    the last kept hybrid block alone (a removal of any other leaves the next a part cycle
    short)."""
    if getattr(config, "model_type", None) != "zamba2":
        return len(removable)
    hybrid = set(zamba2_hybrid_ids(config))
    removed = [b for b in removable if b not in hybrid]
    for block in reversed(zamba2_hybrid_ids(config)):
        if block in removable and may_remove(config, [*removed, block]):
            removed.append(block)
        elif config.num_mem_blocks > 1:
            break
    return len(removed)


def one_by_one_hybrid_most(config, removable: Sequence[int]) -> int:
    """How many of a Zamba2 model's removable hybrid blocks a criterion that removes one block
    a round (SLEB) can remove (`one_by_one_most`, less its removable Mamba blocks, which every
    round may take)."""
    hybrid = set(zamba2_hybrid_ids(config))
    return one_by_one_most(config, removable) - len([b for b in removable if b not in hybrid])


def period_runs(removable: Sequence[int], period: int, aligned: bool = False) -> int:
    """How many disjoint runs of `period` consecutive blocks the removable blocks hold (where
    `aligned`, each from a multiple of `period`: param_count.aligned_periods)."""
    if aligned:
        return sum(set(range(start, start + period)) <= set(removable)
                   for start in range(0, max(removable, default=-1) + 1, period))
    runs, length, last = 0, 0, None
    for block in sorted(removable):
        length = length + 1 if last is not None and block == last + 1 else 1
        last = block
        if length == period:
            runs, length = runs + 1, 0
    return runs


def period_sizes(config) -> list[int]:
    """Parameters of each whole period a depth prune may remove (`param_count.whole_period`):
    an Inkling 2 model's groups after the first (its last blocks, fewer than a group, none);
    a Jamba model's first period, as many as any run of so many consecutive blocks holds."""
    period, shapes = whole_period(config), layer_shapes(config)
    sizes = [block_param_count(config, shape) for shape in shapes]
    if aligned_periods(config):
        return [sum(sizes[start:start + period])
                for start in range(period, len(sizes) - period + 1, period)]
    return [sum(sizes[:period])]  # (a model shallower than a period: its blocks, none to go)


def period_params(config) -> int:
    """Parameters of one whole period (`param_count.whole_period`): a Jamba model's (any run
    of so many consecutive blocks holds as many), an Inkling 2 model's groups' (each group
    after the first; groups of other sizes, which a config's layer_types could give, are
    refused: which ones a criterion removes would change the size)."""
    sizes = period_sizes(config) or [0]
    if len(set(sizes)) > 1:
        raise FamilyUnsupported(
            f"this Inkling 2 model's groups of n_layers_per_attn_res_block="
            f"{whole_period(config)} blocks after the first hold different numbers of "
            f"parameters ({[format_params(size) for size in sizes]}: its layer_types gives "
            "them other kinds of blocks), so a depth prune of whole groups would not reach a "
            "size known before its criterion chooses them: prunebench depth-prunes Inkling 2 "
            "models whose groups are alike (its published layout: every sixth block full, "
            "groups of six)")
    return sizes[0]


def solve_whole_periods(config, target_params: int, removable: list[int]) -> int:
    """How many blocks a depth prune of a Jamba or Inkling 2 model removes: whole periods
    (runs of `param_count.whole_period` consecutive removable blocks, Inkling 2's from a
    multiple of it, whose removal leaves a layout a Jamba config.json's four integers say and
    every kept Inkling 2 block its role: docs/families.md, Jamba and Inkling 2), as many as
    bring the size closest to the target (ties: fewer), as other families' plans take the
    closest number of blocks. A target nearer the dense model than any removal of periods, or
    below the size with every run removed by more than half a period, is refused naming the
    sizes that work nearest to it."""
    period, n = whole_period(config), block_count(config)
    total, per_period = count_params(config), period_params(config)
    aligned = aligned_periods(config)
    most = min(period_runs(removable, period, aligned), (n - 1) // period)  # (a block stays)
    # (and an attention block: whichever runs of whole periods go, the blocks left are of the
    # kinds of the first n - removed blocks, so the first runs say it for any of them)
    while most and not leaves_each_kind(config, range(most * period)):
        most -= 1
    sizes = [total - m * per_period for m in range(most + 1)]
    m = min(range(most + 1), key=lambda m: (abs(sizes[m] - target_params), m))
    if m > 0 and target_params >= sizes[-1] - per_period / 2:
        return m * period
    near = [f"{format_params(size)} ({sizes.index(size)} period"
            f"{'' if sizes.index(size) == 1 else 's'} removed)" for size in sizes[1:3]
            if m == 0] + ([f"{format_params(sizes[-1])} ({most} periods removed)"]
                          if m and most else [])
    why = (f"groups of {period} blocks from a multiple of it "
           f"(n_layers_per_attn_res_block; {format_params(per_period)} params each: "
           f"{INKLING2_GROUPS}" if aligned else
           f"periods of {period} consecutive blocks ({format_params(per_period)} params each: "
           "its config.json says where its attention blocks and experts are by "
           "attn_layer_period / attn_layer_offset and expert_layer_period / "
           "expert_layer_offset alone, which other removals break")
    raise PrunebenchError(
        f"target {target_params:,} params: a depth prune of this "
        f"{'Inkling 2' if aligned else 'Jamba'} model removes whole {why}), and no number of "
        f"them (up to {most}, the runs of {period} removable blocks that leave an attention "
        "block) comes closer to it than "
        f"{'the dense model' if m == 0 else 'half a period'}. The sizes that work nearest to "
        f"it: {', '.join(near) if near else 'none'}"
        + ("" if near else f" (its {n} blocks are not more than one period: no prune of "
                           "whole periods keeps a block)" if n <= period else
           f" (no run of {period} removable blocks: protect fewer blocks, protect_first / "
           "protect_last)" if not period_runs(removable, period, aligned) else
           f" (removing one period would leave no attention block: "
           f"{depth_needed_kinds(config)[0][2]})"))


def whole_period_choice(config, removable: Sequence[int], scores: Sequence[float],
                        k: int) -> list[int]:
    """The k blocks a one-shot criterion removes from a Jamba or Inkling 2 model: runs of
    whole periods (each `param_count.whole_period` consecutive removable blocks, Inkling 2's
    from a multiple of it; runs may meet) whose scores (lower: less important) sum to the
    least of any such choice, found exactly by dynamic programming over the blocks. Removing
    such runs leaves every later block of the kinds a Jamba config's offsets give it
    (param_count.period_of), and every kept Inkling 2 block its role."""
    period, n = whole_period(config), block_count(config)
    runs, free, aligned = k // period, set(removable), aligned_periods(config)
    # best[i][j]: the least sum and the blocks removed, j runs taken among blocks < i
    best = [[(0.0, ())] + [(math.inf, ())] * runs]
    for i in range(1, n + 1):
        row = list(best[i - 1])
        start = i - period
        if (start >= 0 and not (aligned and start % period)
                and all(b in free for b in range(start, i))):
            cost = sum(scores[start:i])
            for j in range(1, runs + 1):
                total, taken = best[start][j - 1]
                if total + cost < row[j][0]:
                    row[j] = (total + cost, (*taken, *range(start, i)))
        best.append(row)
    total, taken = best[n][runs]
    if not math.isfinite(total) or len(taken) != k:  # (solve_whole_periods sized k so)
        raise PrunebenchError(
            f"no {runs} runs of {period} consecutive removable blocks among {list(removable)} "
            "with finite scores: choose a larger target")
    return sorted(taken)


def check_kinds_left(config, removable: list[int], k: int) -> None:
    """Refuse removing `k` of the `removable` blocks where no choice of them leaves a block of
    each kind the family needs (param_count.depth_needed_kinds: OLMo Hybrid's Gated DeltaNet
    and attention, Qwen3-Next's attention, ...; two of Zamba's hybrid blocks,
    depth_needed_least): said when the prune is planned, from the config alone, not by
    remove_blocks after the scoring. The criteria then choose among the choices that keep each
    kind (kind_keeping_choice, leaves_each_kind), so a plan this passes is pruned whatever the
    scores (depth_angular's one run of consecutive blocks may still find no run that keeps
    each kind: its plan says so, `run_starts`)."""
    kept = [b for b in range(block_count(config)) if b not in removable]
    if getattr(config, "model_type", None) == "zamba2":
        if k not in (counts := zamba2_counts(config, removable)):
            raise PrunebenchError(
                f"removing {k} of the removable blocks {list(removable)} (keeping "
                f"{kept if kept else 'none'} whatever the criterion scores) cannot keep this "
                f"Zamba2 model's hybrid blocks {zamba2_hybrid_ids(config)} in whole cycles of "
                f"num_mem_blocks={config.num_mem_blocks} (param_count.zamba2_removal_problem) "
                f"and one of them: the numbers of blocks that can go are {counts}. Choose "
                "another target, or other protect_first / protect_last")
        return
    free = len(removable) - k  # the removable blocks the criterion keeps
    least = depth_needed_least(config)
    # (each kind's blocks the criterion must keep too; its blocks not kept are removable)
    missing = [(name, blocks, why, least - len(set(blocks) & set(kept)))
               for name, blocks, why in depth_needed_kinds(config)
               if blocks and len(set(blocks) & set(kept)) < least]
    if sum(short for *_, short in missing) <= free:
        return
    kinds = " and ".join(f"its {name} blocks are {blocks}" for name, blocks, _, _ in missing)
    raise PrunebenchError(
        f"removing {k} of the removable blocks {removable} (keeping "
        f"{kept if kept else 'none'} whatever the criterion scores) would leave this "
        f"{family(config).model_class} model "
        f"{'no' if least == 1 else f'fewer than {least}'} "
        f"{' or '.join(name for name, *_ in missing)} block{'' if least == 1 else 's'} "
        f"({kinds}): {'; '.join(why for _, _, why, _ in missing)}. Choose a larger target, or "
        f"keep {'a block' if least == 1 else f'{least} blocks'} of each kind with "
        "protect_first / protect_last")


def leaves_each_kind(config, removed) -> bool:
    """Whether removing the blocks `removed` leaves a block of each kind the family needs
    (param_count.depth_needed_kinds; two of Zamba's hybrid blocks, depth_needed_least;
    always, in a family of one kind of block)."""
    least = depth_needed_least(config)
    return all(len(set(blocks) - set(removed)) >= least
               for _, blocks, _ in depth_needed_kinds(config) if blocks)


def with_readers(config, block: int) -> set[int]:
    """`block` with every block that reads it, directly or through another (Kolibri-1.1's
    readers of a source's keys and values or candidate pool: param_count.broken_reads): the
    fewest blocks that can go with it; `block` alone in other families."""
    unit = {block}
    while broken := broken_reads(config, unit):
        unit |= {reader for reader, _, _ in broken}
    return unit


def may_remove(config, removed) -> bool:
    """Whether a depth prune may remove the blocks `removed`: they leave a block of each kind
    the family needs (`leaves_each_kind`), each block a kept block reads (Kolibri-1.1's
    keys' and candidate pools' sources, which go with all their readers or not at all:
    param_count.broken_reads) and every kept Zamba2 hybrid block on its shared block
    (param_count.zamba2_shifted)."""
    return (leaves_each_kind(config, removed) and not broken_reads(config, removed)
            and not zamba2_shifted(config, removed))


def kind_keeping_choice(config, ranking: Sequence[int], k: int) -> tuple[list[int], list[int]]:
    """The k blocks a one-shot criterion removes, taken from `ranking` (least important first)
    one at a time, each the first block in it that may go beside those taken (`may_remove`):
    passing over a block whose removal would leave its kind without a block (a hybrid's last
    attention block, say, modeling.remove_blocks refusing such a prune; or with one of Zamba's
    hybrid blocks, of which two stay). Returns (the blocks removed, in ranking order; those
    passed over, ranked before the last removed). In a family of neither, the first k. A
    kind's block is passed over only where every other block of its kind but those kept ranks
    lower, so the kept ones are its kind's most important. check_kinds_left has made sure, when
    the prune was planned, that k blocks can go so. (Kolibri-1.1's sources, which go only with
    their readers, are chosen by the least sum instead: `readers_choice`; greedily, a source
    ranked low would wait for its readers, and a cheaper removal be missed.)"""
    removed: list[int] = []
    while len(removed) < k:
        block = next((b for b in ranking
                      if b not in removed and may_remove(config, [*removed, b])), None)
        if block is None:  # (check_kinds_left refuses such a plan before any scoring)
            raise PrunebenchError(
                f"only {len(removed)} of the ranked blocks {list(ranking)} can go while a block "
                f"of each kind {[name for name, _, _ in depth_needed_kinds(config)]} and each "
                f"block a kept block reads stay, and {k} must: choose a larger target")
        removed.append(block)
    removed.sort(key=list(ranking).index)
    last = list(ranking).index(removed[-1]) if removed else 0
    return removed, [b for b in ranking[:last] if b not in removed]


def run_starts(config, removable: Sequence[int], k: int, target_params: int) -> list[int]:
    """The first blocks of the runs of k consecutive removable blocks depth_angular may remove
    (`may_remove`; of a Zamba2 or Kolibri-1.1 model, the plan's mix, one some run holds:
    `planned_mix` of depth_angular), from the config alone: its prune and its plan refuse a
    size none makes."""
    # (runs of removable blocks only: a Gemma 4 model keeps blocks amid them)
    # (an Inkling 2 model's: whole groups, from a multiple of n_layers_per_attn_res_block)
    starts = [s for s in range(removable[0], removable[-1] - k + 2)
              if set(range(s, s + k)) <= set(removable)
              and not (aligned_periods(config) and s % whole_period(config))]
    if not starts:
        raise PrunebenchError(
            f"depth_angular: no run of {k} consecutive removable blocks (removable: "
            f"{removable}; the others are protected or needed by the model): lower "
            "protect_first / protect_last or remove fewer blocks (a larger size)")
    # (a hybrid's runs that keep a block of each kind it needs, and Kolibri-1.1's that hold
    # each source they take with all its readers, and a Zamba2 model's hybrid blocks in
    # whole cycles: sizing.may_remove)
    # (and of a Zamba2 or Kolibri-1.1 model as many blocks of each class as the plan sized
    # among the runs' mixes: sizing.depth_mix, so some run holds it)
    most = planned_mix(config, target_params, removable, "depth_angular")
    keeping = [s for s in starts if may_remove(config, range(s, s + k))
               and within_counts(config, removable, range(s, s + k), most)]
    if not keeping:
        raise PrunebenchError(
            f"depth_angular: every run of {k} consecutive removable blocks (starting at "
            f"{starts}) would leave this model too few blocks of a kind it needs "
            f"({[(name, blocks) for name, blocks, _ in depth_needed_kinds(config)]}) or "
            "a block kept reading a removed one's keys and values or candidate pool "
            f"({broken_reads(config, range(starts[0], starts[0] + k))} in the first): "
            "choose another size, or a criterion that removes blocks apart (depth_ppl, sleb, "
            "shortgpt)")
    return keeping


def refuse_block_by_block(config, method: str) -> None:
    """Stop a depth method that removes one block a round (SLEB) on a Jamba model, whose depth
    prunes remove whole periods (`solve_whole_periods`): a round's one block would leave a
    layout its config.json cannot say; on an Inkling 2 model likewise, whose prunes remove
    whole groups (a round's one block would change the kept blocks' roles)."""
    if aligned_periods(config):
        raise FamilyUnsupported(
            f"{method} removes one block a round, and an Inkling 2 model's depth prune removes "
            f"whole groups of n_layers_per_attn_res_block={whole_period(config)} blocks "
            f"({INKLING2_GROUPS}): prune it with depth_ppl, depth_taylor, depth_mag, shortgpt "
            "or depth_angular, which choose whole groups")
    if getattr(config, "model_type", None) == "jamba":
        raise FamilyUnsupported(
            f"{method} removes one block a round, and a Jamba model's depth prune removes whole "
            f"periods of {jamba_period(config)} blocks (its config.json says where its attention "
            "blocks and experts are by attn_layer_period / offset and expert_layer_period / "
            "offset alone, which removing single blocks breaks): prune it with depth_ppl, "
            "depth_taylor, depth_mag, shortgpt or depth_angular, which choose whole periods")


def refuse_runs_of_looped_blocks(config) -> None:
    """Stop depth_angular on a model whose blocks run a different number of times a token
    (Dory's recurrent section, looped n_recurrent_loops times: `block_passes`): the angle
    between the states entering and leaving a run is one pass's, and a run reaching into the
    loop is passed once in every loop (its states n_recurrent_loops pairs, its blocks between
    others' passes), so no one distance says what removing it does."""
    if len(set(block_passes(config))) > 1:
        raise FamilyUnsupported(
            f"depth_angular does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its recurrent blocks run "
            f"n_recurrent_loops={config.n_recurrent_loops} times a token, the others once, so "
            "a run of consecutive blocks has no one input and output state whose angle says "
            "what removing it does. Prune it with depth_ppl, depth_taylor, depth_mag, sleb or "
            "shortgpt, which score each block by what removing it does over all its passes")


def plan_blocks(config, target_params: int, protect_first: int, protect_last: int,
                method: str | None = None) -> dict:
    """What removing whole blocks by the depth method `method` (None: a one-shot criterion,
    which may choose any blocks) does to a model of this config, from the config alone."""
    removable = depth_removable(config, protect_first, protect_last)
    k = solve_num_blocks(config, target_params, removable, method)
    check_kinds_left(config, removable, k)
    shapes = layer_shapes(config)
    removed = largest_first(config, removable)[:k]
    if whole_period(config):  # (whole periods: any run holds as many; Inkling 2's groups too)
        start = whole_period(config) if aligned_periods(config) else 0
        removed = list(range(start, start + k))
    zamba2 = getattr(config, "model_type", None) == "zamba2"
    if mix := planned_mix(config, target_params, removable, method):
        # (as many blocks of each class as the plan says: any such take as many)
        removed = list(method_mixes(config, removable, method)[mix])
    # The criterion picks which blocks go, so the KV cache kept is known from the config only
    # when every removable block caches as many heads (not so in a Dory model, whose recurrent
    # blocks cache once a loop) of one width (not in Gemma 4, whose global blocks' heads are wider: its KV bytes
    # are not heads times one head_dim), nor in a GLM-MoE-DSA model whose "shared" blocks
    # cache no indexer key (`indexer_blocks`: the blocks removed may hold one or not;
    # param_count's kv_bytes_per_token counts one in every kept block where every block holds
    # one), nor in a Dots 3 Note model whose blocks' latents differ in width
    # (`latent_block_shapes`), nor in a DeepSeek-V4 model whose blocks' compressors differ (a
    # sliding block caches no entry a token, a CSA block more than an HCA one:
    # `deepseek_v4_compressed`). Where the heads alone differ (a Dory recurrent block's, cached
    # once a loop: `cache_layers`; a width-pruned block's fewer), the kept blocks hold between
    # what is left when the k removable blocks caching the most go and when those caching the
    # fewest go: `kv_heads_kept_range`, the criterion choosing where in it.
    one_width = (not family(config).per_layer_blocks
                 and len({shape.get("indexer", True) for shape in shapes}) == 1
                 and len({str(shape.get("latent")) for shape in shapes}) == 1
                 and len({shape.get("compressor") for shape in shapes}) == 1)
    removable_kv = sorted(kv_head_count([shapes[b]]) for b in removable)
    most = kv_head_count(shapes) - sum(removable_kv[:k])
    fewest = kv_head_count(shapes) - sum(removable_kv[len(removable_kv) - k:])
    return {"blocks_removed": k, "blocks_after": block_count(config) - k,
            "params_after": count_params(config) - depth_removed_params(config, removed),
            **({"hybrid_blocks_removed": mix[0]} if zamba2 else {}),
            **({"blocks_removed_by_size": [[size, count] for size, count in zip(
                class_sizes(config), mix)]} if mix and not zamba2 else {}),
            "kv_heads_kept": fewest if one_width and fewest == most else None,
            **({"kv_heads_kept_range": [fewest, most]} if one_width and fewest < most else {}),
            "note": "which blocks go is decided by the criterion"}


def plan_whole_blocks(method: str, config, target_params: int, **params) -> dict:
    """The plan of a depth method (`method`: depth_ppl, depth_taylor, depth_mag, sleb,
    shortgpt or depth_angular): its criterion decides which blocks go, the config how many.

    A scoring `dtype` (depth_ppl, sleb, shortgpt, depth_angular) is one of
    registry.SCORING_DTYPES once its parameters are checked; whether a model can be scored in
    it depends on how the model is placed, which only the prune knows
    (`depth.scoring_dtype`)."""
    p = registry.checked_params(method, params)
    return plan_blocks(config, target_params, p["protect_first"], p["protect_last"], method)


def plan_depth_ppl(config, target_params: int, **params) -> dict:
    """What depth pruning will do to a model of this config, from the config alone; its cost:
    one pass over the calibration windows for the dense model and one without each block."""
    plan = plan_whole_blocks("depth_ppl", config, target_params, **params)
    return {**plan, "calibration_passes": block_count(config) + 1}


def plan_depth_taylor(config, target_params: int, **params) -> dict:
    return plan_whole_blocks("depth_taylor", config, target_params, **params)


def plan_depth_mag(config, target_params: int, **params) -> dict:
    return plan_whole_blocks("depth_mag", config, target_params, **params)


def plan_sleb(config, target_params: int, **params) -> dict:
    """As plan_depth_ppl; its cost: the dense model's pass, then in each of the k rounds one
    pass per candidate left (Vicuna-13B at 9.5B: 1 + 38 + 37 + ... + 28 = 364)."""
    refuse_block_by_block(config, "sleb")
    plan = plan_whole_blocks("sleb", config, target_params, **params)
    p = registry.checked_params("sleb", params)
    candidates = block_count(config) - p["protect_first"] - p["protect_last"]
    rounds = plan["blocks_removed"]
    return {**plan, "calibration_passes": 1 + sum(candidates - r for r in range(rounds))}


def plan_shortgpt(config, target_params: int, **params) -> dict:
    return plan_whole_blocks("shortgpt", config, target_params, **params)


def plan_depth_angular(config, target_params: int, **params) -> dict:
    """As every depth method's plan, the blocks removed being consecutive; its cost: one pass
    over the calibration windows."""
    refuse_runs_of_looped_blocks(config)
    plan = plan_whole_blocks("depth_angular", config, target_params, **params)
    p = registry.checked_params("depth_angular", params)
    run_starts(config, depth_removable(config, p["protect_first"], p["protect_last"]),
               plan["blocks_removed"], target_params)
    return {**plan, "calibration_passes": 1,
            "note": "which consecutive blocks go is decided by the angular distance"}


# --------------------------------------------------------------------------- sublayers

SUBLAYERS = {"mix": ("attention", "mlp"), "mha": ("attention",), "mlp": ("mlp",)}


def sublayer_sizes(config, protect_first: int, protect_last: int,
                   block_type: str) -> list[tuple[str, int, int]]:
    """(sublayer, block, parameters it takes with it) of every sublayer a sublayer-removal
    method (BlockPruner) may remove, in the original's candidate order: every block's attention
    (MHA), then every block's MLP. A sublayer is an attention with heads left or an MLP with
    channels left; what it takes is its weights and biases (and Qwen3's q/k norms), the
    block's norms staying with the block."""
    shapes = layer_shapes(config)
    blocks = depth_removable(config, protect_first, protect_last)
    units = []
    for kind in SUBLAYERS[block_type]:
        for b in blocks:
            empty = dict(shapes[b])
            if kind == "attention":
                empty.update(num_attention_heads=0, num_key_value_heads=0)
            else:
                empty.update(intermediate_size=0)
            size = block_param_count(config, shapes[b]) - block_param_count(config, empty)
            if size:
                units.append((kind, b, size))
    return units


def emptied_block_size(config, block: int) -> int:
    """What a block holds once its attention and MLP are both gone (its norms; biases
    zeroed): removed with the block, which then computes the identity."""
    shape = dict(layer_shapes(config)[block])
    shape.update(num_attention_heads=0, num_key_value_heads=0, intermediate_size=0)
    return block_param_count(config, shape)


def block_goes_whole(config, block: int, removed: set[str]) -> bool:
    """Whether a block left without its `removed` sublayers (emptied, output biases zeroed)
    computes the identity, and so is removed whole: every sublayer it still has is among them,
    and none it lost before (a width-pruned checkpoint's block without heads or channels)
    keeps an output bias, which would still add to the residual stream. A block the family
    keeps (`depth_kept_blocks`: ModernBERT-decoder's block 0, built without an attention norm,
    whose removal would leave block 1 first without its own) is emptied, never removed."""
    if block in depth_kept_blocks(config):
        return False
    shape = layer_shapes(config)[block]
    kept = {"attention": (shape["num_attention_heads"] > 0, o_bias(config) or shape["o_proj_bias"]),
            "mlp": (shape["intermediate_size"] > 0, mlp_bias(config) or shape["down_proj_bias"])}
    return all(kind in removed or not (weights or bias) for kind, (weights, bias) in kept.items())


def whole_block_sizes(config, units: list[tuple[str, int, int]]) -> dict[int, int]:
    """{block: what it still holds (`emptied_block_size`)} of the blocks that go whole once
    all their removable sublayers (`units`, as sublayer_sizes gives them) are gone."""
    kinds: dict[int, set[str]] = {}
    for kind, block, _ in units:
        kinds.setdefault(block, set()).add(kind)
    return {b: emptied_block_size(config, b) for b, k in kinds.items()
            if block_goes_whole(config, b, k)}


def check_sublayer_target(config, target_params: int, units: list[tuple[str, int, int]]) -> None:
    """Refuse a target the removal of sublayers cannot come closest to: nearer the dense model
    than to removing the smallest one, below what removing all leaves, or one whose closest
    size could be that of no block left at all."""
    dense = count_params(config)
    sizes = sorted(size for _, _, size in units)
    if not sizes or dense - target_params < sizes[0] / 2:
        raise PrunebenchError(
            f"target {target_params:,} params is closer to the dense model than to removing one "
            f"sublayer ({format_params(sizes[0]) if sizes else 'none removable'}): choose a "
            "smaller target")
    # a block left with no sublayer is removed whole, its norms (and biases) with it
    rest = whole_block_sizes(config, units)
    smallest = dense - sum(sizes) - sum(rest.values())
    if target_params < smallest - sizes[0] / 2:
        raise PrunebenchError(
            f"target {target_params:,} params is below {smallest:,}, the size with every "
            "removable sublayer gone (embeddings, norms and protected blocks stay): choose a "
            "larger target, remove both kinds (block_type: mix) or protect fewer blocks")
    if len(rest) == block_count(config):
        # The last removal takes the last block, so the count before it must stay the closer:
        # the target at least half that step above the empty model (a tie keeps fewer). Which
        # sublayer is left last depends on the data, so the largest step is the bound (an MLP
        # and its block's norms, not the smallest sublayer).
        step = max(size + rest[block] for _, block, size in units)
        if target_params < smallest + step / 2:
            raise PrunebenchError(
                f"target {target_params:,} params could remove every sublayer of every block, "
                f"leaving no model (the last removal takes up to {format_params(step)}): choose "
                f"a target of at least {math.ceil(smallest + step / 2):,}")


def refuse_blockpruner(config, block_type: str) -> None:
    """Stop BlockPruner where its sublayers cannot go faithfully: `refuse_moe`'s models, and
    an ALiBi model's attention sublayers (block_type mix or mha). Its MLP sublayers go
    (block_type mlp): BloomMLP and MptMLP add their output to the residual they are given, an
    emptied one (no channels, output bias zeroed) adding nothing, every head kept. An emptied
    attention would leave a block of no heads, where the compiled decoder adds the slopes
    of the model's head count to every block, and BloomAttention adds the residual itself,
    which the headless attention that replaces it (`ZeroHeadAttention`) would drop."""
    if family(config).alibi and block_type != "mlp":
        raise FamilyUnsupported(
            f"blockpruner with block_type {block_type!r} does not support this "
            f"{config.model_type!r} model ({family(config).model_class}): removing its "
            "attention sublayers would leave blocks of no heads, which its ALiBi attention "
            "(slopes for the config's head count in every block; BLOOM's attention adding "
            "the residual stream itself) cannot run as scored. Set block_type: mlp, which "
            "removes MLP sublayers alone, or prune it with a depth method that removes whole "
            "blocks (depth_ppl, depth_taylor, depth_mag, depth_angular, sleb, shortgpt)")
    refuse_moe(config, "blockpruner (it removes attention and MLP sublayers)",
               keeps_heads=True)


def plan_blockpruner(config, target_params: int, **params) -> dict:
    """What BlockPruner will do, from the config alone: which sublayers go (and so how many,
    their sizes differing) is decided by the criterion, round by round; the size lands within
    one sublayer of the target. Its cost, the dense model's pass and then in each round one
    pass per sublayer left, depends on how many rounds the data takes: given as the range
    between the fewest rounds (the largest sublayers first) and the most (the smallest)."""
    p = registry.checked_params("blockpruner", params)
    refuse_blockpruner(config, p["block_type"])
    units = sublayer_sizes(config, p["protect_first"], p["protect_last"], p["block_type"])
    check_sublayer_target(config, int(target_params), units)
    fewest, most = sublayer_rounds(config, int(target_params), units)
    passes = [1 + sum(len(units) - r for r in range(rounds)) for rounds in (fewest, most)]
    return {"block_type": p["block_type"], "params_after": None, "blocks_after": None,
            "kv_heads_kept": None, "sublayers_removable": len(units),
            "calibration_passes": (passes[0] if passes[0] == passes[1]
                                   else f"{passes[0]}-{passes[1]}"),
            "note": "which attention and MLP sublayers go is decided by the criterion, round by "
                    "round; size within one sublayer of the target"}


def sublayer_rounds(config, target_params: int,
                    units: list[tuple[str, int, int]]) -> tuple[int, int]:
    """The fewest and the most rounds a sublayer search can take to bring the size to at most
    `target_params` (each round removes one of `units`). No removal saves more than its
    sublayer and its block's norms (the block going whole), so no order is faster than the
    largest first counted so; each saves at least its sublayer, so none is slower than the
    smallest first counted so."""
    needed = count_params(config) - target_params
    rest = whole_block_sizes(config, units)

    def rounds(savings: list[int]) -> int:
        total = 0
        for k, saving in enumerate(savings, 1):
            total += saving
            if total >= needed:
                return k
        return len(savings)  # the search stops when no sublayer is left

    return (rounds(sorted((size + rest.get(b, 0) for _, b, size in units), reverse=True)),
            rounds(sorted(size for _, _, size in units)))


# --------------------------------------------------------------------------- uniform width

def heads_per_group(config) -> int:
    """Query heads per KV group (constant across blocks: groups are removed whole; one where
    every head has keys and values of its own, GPT-NeoX's and OPT's: `kv_heads`)."""
    return config.num_attention_heads // kv_heads(config)


def config_with_shapes(config, shapes: list[dict[str, Any]]):
    """A copy of `config` with the given per-block shapes (for closed-form counting)."""
    new = copy.deepcopy(config)
    new.layer_shapes = shapes
    return new


def shape_after_removal(config, shape: dict[str, Any], groups_removed: int,
                        channels_removed: int) -> dict[str, Any]:
    """A block's shape with `groups_removed` KV groups and `channels_removed` MLP channels
    gone; an ALiBi model's groups all kept whatever the rule gives (`heads_removable`: the
    ratio then sizes its MLPs alone, as it does a multi-query model's below a ratio of 1); a
    sharded qkv_proj's (CodeGen's four shards: `head_shards`) rounded down to a multiple of
    its shards, so that each keeps as many heads."""
    if not heads_removable(config):
        groups_removed = 0
    groups_removed -= groups_removed % head_shards(config)
    n_kv = shape["num_key_value_heads"] - groups_removed
    return dict(shape, num_key_value_heads=n_kv,
                num_attention_heads=n_kv * heads_per_group(config),
                intermediate_size=shape["intermediate_size"] - channels_removed)


RemovalRule = Callable[[int, float], int]


def uniform_shapes(config, blocks: Sequence[int], ratio: float,
                   groups_rule: RemovalRule, channels_rule: RemovalRule,
                   biases: bool = False) -> list[dict[str, Any]]:
    """Shapes after removing, in every listed block, what the rules give for `ratio`.

    A rule maps (units in the block, ratio) to the number of units removed, so each method
    keeps its original's rounding. `biases` adds o_proj / down_proj biases to every block.
    """
    shapes = [dict(s) for s in layer_shapes(config)]
    for i in blocks:
        s = shapes[i]
        shapes[i] = shape_after_removal(config, s, groups_rule(s["num_key_value_heads"], ratio),
                                        channels_rule(s["intermediate_size"], ratio))
    return with_output_biases(shapes) if biases else shapes


def width_blocks(config, blocks: Sequence[int]) -> list[int]:
    """Of `blocks`, those a width method prunes: the blocks a text forward runs
    (`param_count.text_blocks`: not Llama 3.2 Vision's cross-attention blocks, which no
    calibration text reaches and which are kept whole)."""
    text = set(text_blocks(config))
    kept = [b for b in blocks if b in text]
    if not kept:
        raise PrunebenchError(
            f"blocks {list(blocks)} are all cross-attention blocks of this Llama 3.2 Vision "
            "model, which width pruning keeps whole (skipped on text): widen the block range "
            f"to self-attention blocks ({text_blocks(config)})")
    return kept


def with_output_biases(shapes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`shapes` with the o_proj and down_proj biases FLAP's bias compensation adds to every
    block it prunes (a Llama 3.2 Vision cross-attention block, kept whole, gets none)."""
    return [s if s.get("cross_attention") else dict(s, o_proj_bias=True, down_proj_bias=True)
            for s in shapes]


def solve_uniform(config, blocks: Sequence[int], target: int,
                  groups_rule: RemovalRule, channels_rule: RemovalRule, *,
                  biases: bool = False, tolerance: float = 0.01) -> dict[str, Any]:
    """Solve the uniform ratio whose pruned size is closest to `target` (bisection).

    The size is a non-increasing step function of the ratio, so bisection finds the step that
    crosses the target; the closer side wins. On small models one more head per block can be a
    step of several percent; when the best uniform ratio misses the target by more than
    `tolerance`, the heads of that ratio are kept and the number of MLP channels removed per
    block is solved alone (reported as `mlp_adjusted`). Raises PrunebenchError when the target
    cannot be reached within `tolerance`.
    """
    def count(shapes):
        return count_params(config_with_shapes(config, shapes))

    def at(ratio):
        return count(uniform_shapes(config, blocks, ratio, groups_rule, channels_rule, biases))

    dense = count_params(config)
    floor = at(1.0)
    if target > dense:
        raise PrunebenchError(f"target {target:,} params exceeds the model's {dense:,}: "
                              "choose a smaller target")
    if target < floor * (1 - tolerance):
        every = len(blocks) == block_count(config)
        # What the method's rules remove at their utmost (a method may keep every head).
        utmost = [shapes for i, shapes in enumerate(uniform_shapes(
            config, blocks, 1.0, groups_rule, channels_rule, biases)) if i in set(blocks)]
        removed = " and ".join(
            what for what, key in (("every head", "num_attention_heads"),
                                   ("every MLP channel", "intermediate_size"))
            if all(shape[key] == 0 for shape in utmost)) or "all the method can remove"
        raise PrunebenchError(
            f"target {target:,} params is unreachable: removing {removed} of "
            f"blocks {list(blocks)[0]}..{list(blocks)[-1]} still leaves {floor:,} (embeddings "
            f"{'and norms' if every else 'and other blocks'} stay"
            f"{alibi_heads_stay(config)}); choose a larger target"
            + ("" if every else " or a wider block range") + alibi_depth_hint(config))
    lo, hi = 0.0, 1.0  # at(lo) > target >= at(hi) once the bracket is set
    if at(lo) <= target:
        hi = lo
    else:
        for _ in range(60):
            mid = (lo + hi) / 2
            if at(mid) <= target:
                hi = mid
            else:
                lo = mid
    ratio = min((lo, hi), key=lambda r: (abs(at(r) - target), r))
    shapes = uniform_shapes(config, blocks, ratio, groups_rule, channels_rule, biases)
    result = {"ratio": ratio, "shapes": shapes, "params": count(shapes), "mlp_adjusted": False}
    if abs(result["params"] - target) <= tolerance * target:
        return result
    # Fine step: keep this ratio's heads, choose how many MLP channels each block loses. The
    # size is linear in that number, so it is solved directly.
    base = layer_shapes(config)
    groups = {i: groups_rule(base[i]["num_key_value_heads"], ratio) for i in blocks}
    width = min(base[i]["intermediate_size"] for i in blocks)

    def with_channels(m):
        cand = [dict(s) for s in base]
        for i in blocks:
            cand[i] = shape_after_removal(config, cand[i], groups[i], m)
        return with_output_biases(cand) if biases else cand

    n0 = count(with_channels(0))
    per_channel = n0 - count(with_channels(1)) if width else 0
    m = min(width, max(0, round((n0 - target) / per_channel))) if per_channel else 0
    shapes = with_channels(m)
    n = count(shapes)
    if abs(n - target) > tolerance * target:
        raise PrunebenchError(
            f"target {target:,} params is unreachable with a uniform ratio over blocks "
            f"{list(blocks)[0]}..{list(blocks)[-1]}: the closest size is {n:,}"
            f"{alibi_heads_stay(config)}; choose another target or block range"
            + alibi_depth_hint(config))
    log.info("uniform ratio %.4f misses the target by more than %.0f%%; removing %d MLP channels "
             "per block instead", ratio, tolerance * 100, m)
    return {"ratio": ratio, "shapes": shapes, "params": n, "mlp_adjusted": True,
            "mlp_channels_removed_per_block": m}


def alibi_heads_stay(config) -> str:
    """What a width method's refusal of an ALiBi model's target adds: its heads all stay."""
    return ("" if heads_removable(config) else
            f", and every head: this {config.model_type!r} model's ALiBi slopes follow its head "
            "count, so width pruning removes MLP channels alone")


def alibi_depth_hint(config) -> str:
    """The methods that reach a target an ALiBi model's MLPs cannot: the depth methods."""
    return ("" if heads_removable(config) else
            ", or prune it with a depth method that removes whole blocks (depth_ppl, "
            "depth_taylor, depth_mag, depth_angular, sleb, shortgpt)")


def block_range(n_blocks: int, start: int | None, end: int | None) -> list[int]:
    """Blocks start..end-1; defaults scale LLM-Pruner's 4..30 of 32 to any depth."""
    start = n_blocks // 8 if start is None else start
    end = n_blocks - n_blocks // 16 if end is None else end
    if not (isinstance(start, int) and isinstance(end, int)) or not 0 <= start < end <= n_blocks:
        raise PrunebenchError(
            f"block range {start}..{end} (end excluded) is out of bounds for {n_blocks} blocks: "
            f"choose 0 <= block_start < block_end <= {n_blocks}")
    return list(range(start, end))


# --------------------------------------------------------------------------- LLM-Pruner

def channels_removed(channels: int, ratio: float) -> int:
    """LLM-Pruner's (torch-pruning's local) rule: keep int(C * (1 - p)) of C channels."""
    return channels - int(channels * (1 - ratio))


def groups_rule(config):
    """LLM-Pruner's KV groups removed per block: the channel rule rounded down to whole
    groups."""
    hd = head_dim(config)
    return lambda groups, ratio: channels_removed(groups * hd, ratio) // hd


def pruned_layer_shapes(config, ratio: float, block_start: int | None = None,
                        block_end: int | None = None) -> list[dict[str, Any]]:
    """Per-block shapes after LLM-Pruner with `ratio` over the block range (config only)."""
    _check_ratio(ratio)
    blocks = width_blocks(config, block_range(block_count(config), block_start, block_end))
    return uniform_shapes(config, blocks, ratio, groups_rule(config), channels_removed)


def pruned_param_count(config, ratio: float, block_start: int | None = None,
                       block_end: int | None = None) -> int:
    """Parameter count after LLM-Pruner with `ratio` (LLaMA-7B, 0.25, 4..30 -> 5.42B)."""
    shapes = pruned_layer_shapes(config, ratio, block_start, block_end)
    return count_params(config_with_shapes(config, shapes))


# How far the size a fixed `ratio` gives may stray from the variant's target: the study's ratio
# 0.35 gives 4.908B for "4.9B" (LLaMA-7B) and 9.241B for "9.2B" (Vicuna-13B), 0.2% and 0.4% off.
RATIO_TOLERANCE = 0.02


def check_ratio_meets_target(ratio: float, params_after: int, target_params: int) -> None:
    """Refuse a fixed ratio whose size is not the variant's: tables and figures would show the
    variant under a size it does not have."""
    if target_params and abs(params_after - target_params) > RATIO_TOLERANCE * target_params:
        off = (params_after - target_params) / target_params
        raise PrunebenchError(
            f"llm_pruner: ratio {ratio} keeps {params_after:,} parameters, {abs(off):.0%} "
            f"{'above' if off > 0 else 'below'} the variant's target of {target_params:,}, so its "
            "name would misstate its size: leave ratio out (it is then solved to the target), or "
            f"name the variant for the size the ratio gives ({format_params(params_after)})")


def _check_ratio(ratio) -> None:
    """The registry's rule for `ratio` (a solved one has no None)."""
    problem = registry.value_problems("llm_pruner", {"ratio": ratio})
    if ratio is None or problem:
        raise PrunebenchError(f"llm_pruner: {problem[0] if problem else 'ratio=None'}")


def plan_llm_pruner(config, target_params: int, **params) -> dict:
    """The solved ratio and exact size, from the config alone (no weights, no data)."""
    refuse_moe(config, "llm_pruner (width pruning)", keeps_heads=True)
    p = registry.checked_params("llm_pruner", params)
    blocks = width_blocks(config, block_range(block_count(config), p["block_start"],
                                              p["block_end"]))
    if p["ratio"] is not None:  # checked with the other parameters
        ratio = float(p["ratio"])
        shapes = pruned_layer_shapes(config, ratio, p["block_start"], p["block_end"])
        params_after = count_params(config_with_shapes(config, shapes))
        check_ratio_meets_target(ratio, params_after, int(target_params))
    else:
        solved = solve_uniform(config, blocks, int(target_params), groups_rule(config),
                               channels_removed)
        ratio, params_after, shapes = solved["ratio"], solved["params"], solved["shapes"]
    return {"ratio": round(ratio, 4), "blocks": f"{blocks[0]}..{blocks[-1]}",
            "params_after": params_after, "blocks_after": block_count(config),
            "kv_heads_kept": kv_head_count(shapes)}


# --------------------------------------------------------------------------- FLAP

def compensated_shapes(config, biases: bool) -> list[dict[str, Any]]:
    """The config's block shapes, with the o_proj and down_proj biases that FLAP's bias
    compensation adds to every block when `biases`."""
    shapes = layer_shapes(config)
    return with_output_biases(shapes) if biases else shapes


def al_am_floor(config, target: int, biases: bool) -> int:
    """The size with every head and MLP channel removed (embeddings, norms, the compensation
    biases; an ALiBi model's heads too, which stay: `heads_removable`): AL-AM's smallest model,
    known from the config alone. Raises PrunebenchError when `target` is below it."""
    headless = ({"num_key_value_heads": 0, "num_attention_heads": 0}
                if heads_removable(config) else {})  # (an ALiBi model keeps every head)
    empty = [s if s.get("cross_attention") else dict(s, intermediate_size=0, **headless)
             for s in compensated_shapes(config, biases)]  # (cross-attention blocks: whole)
    floor = count_params(config_with_shapes(config, empty))
    if target < floor:
        raise PrunebenchError(
            f"flap: target {target:,} params is unreachable: with every "
            f"{'head and ' if headless else ''}MLP channel removed the model still has "
            f"{floor:,} (embeddings, norms, biases{alibi_heads_stay(config)}); choose a "
            "larger target" + alibi_depth_hint(config))
    return floor


def plan_flap(config, target_params: int, **params) -> dict:
    """What FLAP will do, from the config alone: UL-UM's ratio is solved here; AL-AM's
    per-block widths depend on the calibration statistics, so only the budget is known."""
    refuse_moe(config, "flap (width pruning)", keeps_heads=True)
    p = registry.checked_params("flap", params)
    if p["structure"] == "UL-UM":
        solved = solve_uniform(config, width_blocks(config, range(block_count(config))),
                               int(target_params), lambda n, r: int(r * n),
                               lambda n, r: int(n * r), biases=p["bias_compensation"])
        return {"structure": "UL-UM", "ratio": round(solved["ratio"], 4),
                "params_after": solved["params"], "blocks_after": block_count(config),
                "kv_heads_kept": kv_head_count(solved["shapes"])}
    al_am_floor(config, int(target_params), p["bias_compensation"])  # refused here, not late
    return {"structure": "AL-AM", "params_after": None, "blocks_after": block_count(config),
            "kv_heads_kept": None,  # heads and channels compete for one budget
            "note": "per-block widths depend on calibration; size within one unit of the target"}


# --------------------------------------------------------------------------- Wanda-sp

def wanda_sp_rules() -> tuple[RemovalRule, RemovalRule]:
    """Wanda-sp's removal rules: int(p * heads) KV groups and int(p * C) MLP channels."""
    return (lambda n, p: int(p * n)), (lambda n, p: int(n * p))


def plan_wanda_sp(config, target_params: int, **params) -> dict:
    """The solved uniform ratio and exact size, from the config alone."""
    refuse_moe(config, "wanda_sp (width pruning)", keeps_heads=True)
    registry.checked_params("wanda_sp", params)
    groups, channels = wanda_sp_rules()
    solved = solve_uniform(config, width_blocks(config, range(block_count(config))),
                           int(target_params), groups, channels)
    return {"ratio": round(solved["ratio"], 4), "params_after": solved["params"],
            "blocks_after": block_count(config),
            "kv_heads_kept": kv_head_count(solved["shapes"])}


def check_prunable(config, method: str, size: str, params: dict[str, Any] | None = None) -> int:
    """Everything about a prune that the model's config decides, checked without its weights:
    the method, the size, the method's own check of its parameters and of the target against
    this config (an unknown or bad parameter, protection that leaves no block, a target it
    cannot reach). Returns the target parameter count. Torch-free, as `registry.method_plan`:
    the workflow's start checks run it on the prunes that would run again."""
    plan = registry.method_plan(method)
    target = parse_size(size, count_params(config))
    plan(config, target, **(params or {}))
    return target
