"""What a prune may do to a model of a family: the blocks a depth prune must keep
(`depth_needed_kinds`, `depth_kept_blocks`) or may not remove (`zamba2_removal_problem`,
`broken_reads`), what it takes (`depth_removed_params`) and how it rewrites the config's
per-block values (`kept_block_lists`, `kept_depth_scale`); what the width methods and the
backends refuse (`refuse_moe`, `heads_removable`, `own_cache_static_problem`, ...) and which
weights Mag+ and Taylor+ score (`is_scored_weight`).
"""

from __future__ import annotations

import math
import re
from typing import Any

from prunebench import FamilyUnsupported

from .families import block_count, period_of
from .releases import installed_transformers
from .traits import (cross_attention_blocks, family, griffin_kinds, is_moe, kv_sources,
                     linear_attention_blocks, zamba2_hybrid_ids, zamba_hybrid_blocks)
from .shapes import nemotron_h_pattern, zamba2_shared_params
from .counts import block_param_count, block_passes, layer_shapes


def jamba_kept_layout(config, keep: list[int]) -> dict[str, int]:
    """The attn_layer_period / attn_layer_offset under which the blocks a depth prune keeps
    (`keep`, renumbered from 0) are attention blocks or Mamba ones as they were, for
    modeling.remove_blocks to set beside the experts' (`SparseBlocks.periodic`); PrunebenchError
    where no two integers say them. Nothing for another family."""
    if getattr(config, "model_type", None) != "jamba":
        return {}
    linear = linear_attention_blocks(config)
    return dict(zip(("attn_layer_period", "attn_layer_offset"),
                    period_of([not linear[i] for i in keep],
                              "attn_layer_period / attn_layer_offset", "attention")))


def jamba_period(config) -> int:
    """Jamba's whole period: the blocks after which its layout repeats (the least common
    multiple of attn_layer_period and expert_layer_period; 8 in the published models). Any
    run of so many consecutive blocks holds each kind of block as often as any other such run,
    and removing it leaves the blocks after it of the kinds the two offsets give them again."""
    return math.lcm(config.attn_layer_period, config.expert_layer_period)


# Why Inkling 2's depth prunes remove whole groups (the docs' words, and the refusals').
INKLING2_GROUPS = (
    "Inkling2TextModel keeps the input of every n_layers_per_attn_res_block-th block (block i "
    "with i % n == 0, by its index) for its block attention residuals, and block 0 holds no "
    "queries before its attention: removing other blocks would move those boundaries and "
    "change what kept blocks compute")


def whole_period(config) -> int | None:
    """The blocks a depth prune of this model removes together, None where it removes blocks
    one by one: Jamba's whole period (`jamba_period`: any run of so many consecutive blocks),
    Inkling 2's group of n_layers_per_attn_res_block blocks (from a multiple of it:
    `aligned_periods`; INKLING2_GROUPS)."""
    model_type = getattr(config, "model_type", None)
    if model_type == "jamba":
        return jamba_period(config)
    if model_type == "inkling2_text":
        return config.n_layers_per_attn_res_block
    return None


def aligned_periods(config) -> bool:
    """Whether a depth prune's whole periods (`whole_period`) start at multiples of the
    period: Inkling 2's groups do (its boundaries are blocks i with i % n == 0), Jamba's runs
    start anywhere."""
    return getattr(config, "model_type", None) == "inkling2_text"


def inkling2_removal_problem(config, removed) -> str | None:
    """Why removing the blocks `removed` from an Inkling 2 model is refused (None where it is
    not, and in other families): they are not whole groups of n_layers_per_attn_res_block
    blocks after the first (INKLING2_GROUPS), the only removal that keeps every kept block's
    role under its new index."""
    if getattr(config, "model_type", None) != "inkling2_text" or not removed:
        return None
    n, removed = config.n_layers_per_attn_res_block, sorted(set(removed))
    groups = {block // n for block in removed}
    whole = all(set(range(g * n, g * n + n)) <= set(removed)
                and g * n + n <= config.num_hidden_layers for g in groups)
    if whole and 0 not in groups:
        return None
    return (f"removing blocks {removed} would not remove whole groups of this Inkling 2 "
            f"model's blocks: {INKLING2_GROUPS}. Remove whole groups of "
            f"n_layers_per_attn_res_block={n} blocks (blocks g * {n} to g * {n} + {n - 1}, g "
            "from 1; the first group stays): the depth methods choose so (methods.sizing)")


# The kinds of attention block by whose cache transformers sizes a hybrid's masks
# (depth_needed_kinds; modeling.remove_blocks names them in its refusal): LFM3's windowed
# blocks count as well.
MASK_SIZING_KINDS = ("full-attention", "full or windowed attention")


def depth_needed_kinds(config) -> list[tuple[str, list[int], str]]:
    """The kinds of block of which a depth prune must keep one (two of Zamba's hybrid blocks:
    `depth_needed_least`; modeling.remove_blocks refuses a prune that leaves fewer): each
    kind's name, its blocks and why. A full-attention block where other blocks mix tokens
    otherwise (Qwen3-Next's, Qwen3.5's and OLMo Hybrid's Gated DeltaNet, Granite 4.0's and
    Bamba's Mamba-2, LFM2's short convolutions, Nemotron-H's Mamba-2 and MLP blocks); and OLMo
    Hybrid's Gated DeltaNet blocks too. None in other families (MiniMax's lightning attention
    blocks run alone)."""
    n = block_count(config)
    if getattr(config, "model_type", None) == "zamba":
        return zamba_needed_kinds(config)
    if getattr(config, "model_type", None) == "zamba2":
        return [("hybrid", zamba2_hybrid_ids(config), ZAMBA2_NO_HYBRID)]
    if family(config).rwkv_blocks:  # (two kept: `depth_needed_least`)
        return [("RWKV", list(range(n)), RWKV_ONE_BLOCK)]
    if family(config).griffin_blocks:  # (no recurrent block needed: attention alone runs)
        return [("attention", [i for i, kind in enumerate(griffin_kinds(config))
                               if kind == "attention"],
                 "RecurrentGemmaModel sizes its masks by its first attention block's cache, so "
                 "neither generate nor any cached forward runs without one")]
    kind, attention = MASK_SIZING_KINDS[0], (
        "transformers sizes its masks by a full-attention block's cache, so neither generate "
        "nor any cached forward runs without one")
    if getattr(config, "model_type", None) == "lfm3":
        # (LFM3's kind is either attention block: a windowed one sizes them too)
        kind, attention = MASK_SIZING_KINDS[1], (
            "transformers 5.23 and 5.24 read the cache's length from an attention block (full "
            "or windowed), so neither generate nor any cached forward runs without one")
    if family(config).one_mixer_blocks:
        return [(kind, [i for i in range(n) if config.layer_types[i] == "full_attention"],
                 attention)]
    linear = linear_attention_blocks(config)
    if not any(linear) or config.model_type in ("minimax", "lara_mini"):
        # (MiniMax's masks and cache run without a softmax block, 5.17 and 5.25; Lara Mini's
        # without a full-attention or windowed one, 5.24 and 5.25: LaraMiniModel masks by the
        # kinds it has, its cache's length read from any)
        return []
    kinds = [(kind, [i for i in range(n) if not linear[i]], attention)]
    if config.model_type == "olmo_hybrid":
        kinds.append(("Gated DeltaNet", [i for i in range(n) if linear[i]],
                      "OlmoHybridConfig refuses a model without one, so neither prunebench "
                      "nor transformers would load the pruned checkpoint"))
    return kinds


def zamba_needed_kinds(config) -> list[tuple[str, list[int], str]]:
    """The hybrid blocks of which a Zamba depth prune keeps two (`depth_needed_least`; none
    named in other families, nor in a Zamba model of Mamba blocks alone): transformers'
    ZambaModel, 5.17 and 5.25, cannot build a model of tied embeddings and one hybrid block,
    whose tying of the shared block finds no other block to tie (a ValueError); and none would
    drop the shared block, the model's only attention and MLP, which runs in hybrid blocks
    alone."""
    if getattr(config, "model_type", None) != "zamba":
        return []
    hybrid = [i for i, is_hybrid in enumerate(zamba_hybrid_blocks(config)) if is_hybrid]
    why = ("transformers' ZambaModel cannot build a model of one hybrid block (it ties the "
           "shared transformer block's copies and finds none to tie), and none would drop that "
           "block, the model's only attention and MLP, so a prune keeps two")
    return [("hybrid", hybrid, why)] if hybrid else []


def depth_needed_least(config) -> int:
    """How many blocks of each kind `depth_needed_kinds` names a depth prune keeps: two of a
    Zamba model's hybrid blocks (`zamba_needed_kinds`) and of an RWKV model's blocks
    (`RWKV_ONE_BLOCK`), one of every other family's kinds."""
    return 2 if getattr(config, "model_type", None) in ("zamba", "rwkv") else 1


# Why an RWKV depth prune keeps two blocks (5.17, 5.25).
RWKV_ONE_BLOCK = ("RwkvPreTrainedModel's weight init divides by num_hidden_layers - 1, so "
                  "transformers cannot build or load an RWKV model of one block")


# Why a Zamba2 depth prune keeps a hybrid block (5.17, 5.25).
ZAMBA2_NO_HYBRID = ("Zamba2Model's masks and cache need an attention block, which only its "
                    "hybrid blocks run (the shared transformer blocks), so neither generate "
                    "nor any cached forward runs without one")


def zamba2_shifted(config, removed) -> list[int]:
    """The kept hybrid blocks of a Zamba2 model that removing the blocks `removed` would hand
    another shared block: those with a number of removed hybrid blocks before them that is no
    multiple of num_mem_blocks. Hybrid block j (in hybrid order) runs shared block j mod
    num_mem_blocks (Zamba2Model.get_layers' block_id and ties) through its adapter slot j in
    that block's lists, which hold an adapter at the slots of the hybrid blocks running it
    alone; a removal of whole cycles (runs of num_mem_blocks consecutive hybrid blocks, or any
    hybrid blocks after the last kept one) keeps each kept hybrid block on its shared block and
    its adapter at its new slot, as transformers builds the model of the kept blocks
    (modeling.remove_blocks drops the removed blocks' adapters). Any removal with
    num_mem_blocks 1. Empty in other families."""
    if getattr(config, "model_type", None) != "zamba2":
        return []
    removed, gone, shifted = set(removed), 0, []
    for block in zamba2_hybrid_ids(config):
        if block in removed:
            gone += 1
        elif gone % config.num_mem_blocks:
            shifted.append(block)
    return shifted


def zamba2_removal_problem(config, removed) -> str | None:
    """Why removing the blocks `removed` from a Zamba2 model is refused (None where it is
    not, and in other families): it would leave no hybrid block (`ZAMBA2_NO_HYBRID`), or hand
    kept hybrid blocks another shared block (`zamba2_shifted`)."""
    if getattr(config, "model_type", None) != "zamba2":
        return None
    hybrid, removed = zamba2_hybrid_ids(config), sorted(set(removed))
    if not set(hybrid) - set(removed):
        return (f"removing blocks {removed} would leave this Zamba2 model none of its hybrid "
                f"blocks {hybrid}: {ZAMBA2_NO_HYBRID}. Remove fewer blocks (a larger size), or "
                "keep one with the depth method's protect_first / protect_last")
    if shifted := zamba2_shifted(config, removed):
        cycle = config.num_mem_blocks
        return (f"removing blocks {removed} would hand this Zamba2 model's hybrid blocks "
                f"{shifted} other shared transformer blocks than they were trained with: "
                f"hybrid block j (in hybrid order, the hybrid blocks are {hybrid}) runs shared "
                f"block j mod num_mem_blocks={cycle} through its own adapters, so hybrid "
                f"blocks go in whole cycles of {cycle} consecutive ones (or after the last one "
                "kept), which keep every later one on its shared block. Remove such cycles, "
                "or Mamba blocks: the depth methods choose so (methods.sizing)")
    return None


def depth_removed_params(config, removed) -> int:
    """Parameters a depth prune removing the blocks `removed` takes: theirs
    (`block_param_count`), and a Zamba2 model's shared blocks no kept hybrid block runs any
    more (of num_mem_blocks, as many as the hybrid blocks kept: `zamba2_shared_params`)."""
    shapes, gone = layer_shapes(config), set(removed)
    taken = sum(block_param_count(config, shapes[b]) for b in gone)
    if getattr(config, "model_type", None) == "zamba2":
        hybrid = zamba2_hybrid_ids(config)
        before = min(config.num_mem_blocks, len(hybrid))
        after = min(config.num_mem_blocks, len([b for b in hybrid if b not in gone]))
        taken += (before - after) * zamba2_shared_params(config) // before
    return taken


def kolibri1_1_sources(config) -> list[tuple[int, int, str]]:
    """What each block of a Kolibri-1.1 model reads of another: (reader, source, what), for
    the keys and values kv_source_layers names and for the candidate pool an indexed block
    that index_layers leaves out (a reindexer) rescores, that of the closest indexer before
    it (Kolibri1_1Model hands each block the pool of the last indexer run). Empty in other
    families."""
    if getattr(config, "model_type", None) != "kolibri1_1":
        return []
    reads = [(i, source, "keys and values")
             for i, source in enumerate(config.kv_source_layers) if source != i]
    indexers = set(config.index_layers)
    last = None
    for i, kind in enumerate(config.layer_types):
        if i in indexers:
            last = i
        elif kind == "indexed_attention" and last is not None:
            reads.append((i, last, "candidate pool"))
    return reads


def ple_sources(config) -> list[tuple[int, int, str]]:
    """What each per-layer embedding block of a Qwen4-Exp model needs of the one before it in
    ple_layer_ids, as `kolibri1_1_sources` says a block's reads: (block, the PLE block before
    it, "per-layer embedding rank"). Each table's hash and rows follow its block's rank in that
    list (`ple_table_shape`), so a kept one reloads only while every PLE block before it stays:
    only the last PLE blocks may go, each with all those after it. Empty in other families."""
    if getattr(config, "model_type", None) != "qwen4_exp_text":
        return []
    listed = [i - 1 for i in sorted(set(config.ple_layer_ids or []))]
    return [(later, earlier, "per-layer embedding rank")
            for earlier, later in zip(listed, listed[1:])]


def broken_reads(config, removed) -> list[tuple[int, int, str]]:
    """What removing the blocks `removed` would take from a block kept: each (reader, source,
    what) of `kolibri1_1_sources` or `ple_sources` whose source goes while its reader stays
    (that reader would read a missing block's keys, values or pool, or another's; a Qwen4-Exp
    per-layer embedding would reload at another rank). A source goes with its readers
    freely: the kept blocks' lists are renumbered (kept_block_lists). Empty in other families
    and where every reader of a removed source goes too."""
    gone = set(removed)
    return [(reader, source, what) for reader, source, what in block_reads(config)
            if source in gone and reader not in gone]


def block_reads(config) -> list[tuple[int, int, str]]:
    """Every (reader, source, what) of this model's blocks: `kolibri1_1_sources` and
    `ple_sources`; empty in other families."""
    return kolibri1_1_sources(config) + ple_sources(config)


def depth_kept_blocks(config) -> list[int]:
    """The blocks a depth prune must keep whatever it scores: a Gemma 4 model's last block
    (Gemma4TextConfig makes the last block global whatever layer_types says: a sliding block
    left last would reload as another) and each block whose keys and values a block after it
    reuses (`kv_sources`: removing it would hand those blocks another block's); none in other
    families; Nemotron-H's first block (transformers 5.25's cache reads the sequence length
    from the first block's entry, which an MLP block has not: a prune that left one first
    could not decode; its published models' first block is a Mamba-2 one); a GLM-MoE-DSA
    model's first block where a block shares another's indexer choice (`indexer_blocks`: a
    "shared" block reuses the last "full" block's before it, and one left first has none:
    GlmMoeDsaAttention raises); ModernBERT-decoder's first block (its class builds block 0
    without an attention norm, by index: a block left first would lose its trained norm); a
    Zamba2 model's hybrid blocks (`zamba2_hybrid_ids`: removing one would hand
    each later hybrid block another shared block and adapter); an Inkling 2 model's first
    group of n_layers_per_attn_res_block blocks (INKLING2_GROUPS: a block left first would
    lose its trained queries before the attention). None of Kolibri-1.1's: a block
    others read may go with its readers (`broken_reads`, methods.sizing.depth_removable).
    (A Zamba2 model's hybrid blocks go in whole cycles: `zamba2_removal_problem`.) A Llama
    3.2 Vision model's cross-attention blocks (`cross_attention_blocks`): skipped on text,
    so a text score would find each free to remove, which would take the image pathway away
    and save nothing a text step reads; and its first block (one left first that is a
    cross-attention block holds no cache entry on text, where transformers' static cache reads
    the sequence length: generate would decode at the wrong positions, 5.17 and 5.25)."""
    if family(config).one_mixer_blocks or family(config).first_attention_unnormed:
        return [0]
    if aligned_periods(config):  # (Inkling 2's first group: INKLING2_GROUPS)
        return list(range(min(whole_period(config), config.num_hidden_layers)))
    if cross := cross_attention_blocks(config):  # (Llama 3.2 Vision's: skipped on text)
        return sorted({0, *cross})
    if "shared" in (getattr(config, "indexer_types", None) or ()):
        return [0]
    if not family(config).per_layer_blocks:
        return []
    sources = {source for source in kv_sources(config) if source is not None}
    if getattr(config, "model_type", None) == "gemma3n_text":  # (its config keeps the last block's kind)
        return sorted(sources)
    return sorted(sources | {block_count(config) - 1})


# The experts' fused weights (transformers 5 names them without `weight`), under the block's
# `mlp` in most families and its `block_sparse_moe` in GraniteMoE; DBRX's w1 / v1 / w2 (gate,
# up, down) under its `ffn.experts.mlp`.
EXPERT_WEIGHTS = ("experts.gate_up_proj", "experts.down_proj", "experts.mlp.w1",
                  "experts.mlp.v1", "experts.mlp.w2")


def is_scored_weight(name: str, slot: int | None = None) -> bool:
    """Whether a block's parameter `name` is a weight that the Mag+ and Taylor+ criteria score:
    every parameter named `weight`, as the study's script scores them (biases not), and the
    experts' fused weights, which are weights under other names; not Zamba's shared transformer
    block (`shared_transf`) nor Zamba2's (`shared_transformer`), which no block's removal
    removes (and which each hybrid block running it holds: scored in each, a weight's gradient
    would be read and freed more than once), but Zamba2's adapters in it of the hybrid block
    whose place in hybrid order is `slot` (`zamba2_slot`; any where None), removed with it."""
    if "shared_transf" in name:
        adapter = re.search(r"_adapter_list\.(\d+)\.", name)
        if adapter is None or slot is not None and int(adapter[1]) != slot:
            return False
    return "weight" in name or name.endswith(EXPERT_WEIGHTS)


def zamba2_slot(config, block: int) -> int | None:
    """A Zamba2 hybrid block's place in hybrid order (its adapters' slot: `is_scored_weight`);
    None for other blocks and families."""
    if getattr(config, "model_type", None) != "zamba2" or block not in zamba2_hybrid_ids(config):
        return None
    return zamba2_hybrid_ids(config).index(block)


def refuse_moe(config, what: str, keeps_heads: bool = False) -> None:
    """Stop `what` (a width method, the compiled decoder, ...) on a mixture-of-experts model,
    whose experts are 3D parameters no width surgery, fused block or adapter of prunebench
    handles, with what does apply. The width methods' plans (methods.sizing) call it before
    checking their parameters: no value of them helps. A model with blocks of another token
    mixer than softmax attention (Granite 4.0's dense H models: Mamba-2 blocks, no experts) is
    stopped alike: those blocks hold no heads, and the fused block computes attention only;
    and a dense Gemma 4 model (`Family.per_layer_blocks`), whose blocks' shapes its surgery and
    fused block do not read. `keeps_heads`: `what` keeps every head of an ALiBi model (the
    compiled decoder, which adds its biases as transformers computes them; the width methods,
    which remove its MLP channels alone: `heads_removable`), so BLOOM and MPT pass."""
    if family(config).one_mixer_blocks:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): each of its blocks holds one mixer "
            f"({nemotron_h_pattern(config.layer_types)!r}: M a Mamba-2 mixer, * attention, - an MLP), which "
            "prunebench's width surgery, sublayer removal and compiled decoder do not handle. "
            "Prune it with a depth method that removes whole blocks (depth_ppl, depth_taylor, "
            "depth_mag, depth_angular, sleb, shortgpt) and benchmark it with the hf or "
            "hf_static backend")
    if family(config).mamba_stack:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): each of its blocks is a norm and a "
            f"{'Mamba-1' if family(config).mamba1_blocks else 'Mamba-2'} mixer "
            "(no attention heads, no MLP), which prunebench's width surgery, sublayer removal "
            "and compiled decoder do not handle. Prune it with a depth method that removes "
            "whole blocks (depth_ppl, depth_taylor, depth_mag, depth_angular, sleb, shortgpt) "
            "and benchmark it with the hf or hf_static backend")
    if family(config).mlstm_blocks:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): each of its blocks is an mLSTM layer (a matrix "
            "memory, no attention heads) and a gated FFN under xLSTM's own module names, which "
            "prunebench's width surgery, sublayer removal and compiled decoder do not handle. "
            "Prune it with a depth method that removes whole blocks (depth_ppl, depth_taylor, "
            "depth_mag, depth_angular, sleb, shortgpt) and benchmark it with the hf backend")
    if getattr(config, "model_type", None) == "zamba2":
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its blocks hold Mamba-2 mixers, and its hybrid "
            "blocks run num_mem_blocks shared transformer blocks (shared_transformer) over the "
            "hidden state and the embeddings concatenated, through LoRA adapters of their own, "
            "which prunebench's width surgery, sublayer removal and compiled decoder do not "
            "handle. Prune it with a depth method that removes whole blocks (depth_ppl, "
            "depth_taylor, depth_mag, depth_angular, sleb, shortgpt; its Mamba blocks) and "
            "benchmark it with the hf or hf_static backend")
    if family(config).rwkv_blocks:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): each of its blocks is RWKV's time mixing (a WKV "
            "recurrence, no attention heads) and channel mixing with time-shifted inputs, which "
            "prunebench's width surgery, sublayer removal and compiled decoder do not handle. "
            "Prune it with a depth method that removes whole blocks (depth_ppl, depth_taylor, "
            "depth_mag, depth_angular, sleb, shortgpt) and benchmark it with the hf backend at "
            "batch size 1 (hf_static and larger batches do not run it: "
            "own_cache_static_problem, batched_state_problem)")
    if getattr(config, "model_type", None) == "zamba":
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its blocks hold multi-head Mamba mixers, and its "
            "hybrid blocks all run one shared transformer block (shared_transf) over the hidden "
            "state and the embeddings concatenated, which prunebench's width surgery, sublayer "
            "removal and compiled decoder do not handle. Prune it with a depth method that "
            "removes whole blocks (depth_ppl, depth_taylor, depth_mag, depth_angular, sleb, "
            "shortgpt) and benchmark it with the hf or hf_static backend")
    if family(config).griffin_blocks:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its blocks hold RG-LRU recurrent blocks or local "
            "attention (block_types) under their own module names (temporal_block, mlp_block), "
            "which prunebench's width surgery, sublayer removal and compiled decoder do not "
            "handle. Prune it with a depth method that removes whole blocks (depth_ppl, "
            "depth_taylor, depth_mag, depth_angular, sleb, shortgpt) and benchmark it with the "
            "hf or hf_static backend")
    if family(config).short_conv and not is_moe(config):  # (LFM2-MoE's: as experts, below)
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its blocks hold gated short convolutions or "
            "attention (layer_types), whose modules (operator_norm, conv, feed_forward's w1 / "
            "w3 / w2) prunebench's width surgery, sublayer removal and compiled decoder do not handle. "
            "Prune it with a depth method that removes whole blocks (depth_ppl, depth_taylor, "
            "depth_mag, depth_angular, sleb, shortgpt) and benchmark it with the hf or "
            "hf_static backend")
    if family(config).mamba_beside_attention:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): each of its blocks runs a Mamba-2 mixer beside "
            "its attention, which prunebench's width surgery, sublayer removal and compiled "
            "decoder do not handle. Prune it with a depth method that removes whole blocks "
            "(depth_ppl, depth_taylor, depth_mag, depth_angular, sleb, shortgpt) and benchmark "
            "it with the hf or hf_static backend")
    if not is_moe(config) and any(linear := linear_attention_blocks(config)):
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}) with blocks of another token mixer than softmax "
            f"attention (blocks {[i for i, kind in enumerate(linear) if kind]}: "
            f"{'Mamba-2' if family(config).mamba_mixer else 'Gated DeltaNet'}), which "
            "prunebench's width surgery, sublayer removal and compiled decoder do not handle. "
            "Prune it with a depth method that removes whole blocks (depth_ppl, depth_taylor, "
            "depth_mag, depth_angular, sleb, shortgpt) and benchmark it with the hf or "
            "hf_static backend")
    if getattr(config, "model_type", None) == "gemma3n_text":
        raise FamilyUnsupported(
            f"{what} does not support this 'gemma3n_text' model (Gemma3nForCausalLM): each "
            "block runs an AltUp over altup_num_inputs residual streams and a LAuReL low-rank "
            "residual beside its attention and MLP, the first blocks cut their MLP's gate "
            "(activation_sparsity_pattern) and its last blocks reuse an earlier block's keys "
            "and values (num_kv_shared_layers), which prunebench's width surgery, sublayer "
            "removal and compiled decoder do not handle. Prune it with a depth method that "
            "removes whole blocks (depth_ppl, depth_taylor, depth_mag, depth_angular, sleb, "
            "shortgpt) and benchmark it with the hf or hf_static backend")
    if not is_moe(config) and family(config).per_layer_blocks:
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its blocks differ in head_dim and KV heads "
            "(per_layer_config), its global blocks may take their values from the keys "
            "(attention_k_eq_v) and its last blocks reuse an earlier block's keys and values "
            "(num_kv_shared_layers), which prunebench's width surgery, sublayer removal and "
            "compiled decoder do not handle. Prune it with a depth method that removes whole "
            "blocks (depth_ppl, depth_taylor, depth_mag, depth_angular, sleb, shortgpt) and "
            "benchmark it with the hf or hf_static backend")
    if family(config).latent_attention and not is_moe(config):  # (DeepSeek's: as experts)
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its multi-head latent attention (q_a_proj / "
            "q_b_proj, kv_a_proj_with_mqa / kv_b_proj) is not LLaMA's q/k/v heads, which "
            "prunebench's width surgery, sublayer removal and compiled decoder handle. Prune it "
            "with a depth method that removes whole blocks (depth_ppl, depth_taylor, depth_mag, "
            "depth_angular, sleb, shortgpt) and benchmark it with the hf or hf_static backend")
    if family(config).depth_only:
        # (depth_angular's runs are refused where blocks loop: sizing.refuse_runs_of_looped_blocks)
        angular = "" if len(set(block_passes(config))) > 1 else " depth_angular,"
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its blocks hold {family(config).depth_only}, "
            "which prunebench's width surgery, sublayer removal and compiled decoder do not "
            "handle. Prune it with a depth method that removes whole blocks (depth_ppl, "
            f"depth_taylor, depth_mag,{angular} sleb, shortgpt) and benchmark it with the "
            "hf or hf_static backend")
    if family(config).alibi and not keeps_heads and not is_moe(config):  # (experts: below)
        raise FamilyUnsupported(
            f"{what} does not support this {config.model_type!r} model "
            f"({family(config).model_class}): its attention adds ALiBi biases whose slopes "
            "transformers computes from the config's head count, so a model with heads removed "
            "would run its kept heads with other slopes than the model that was scored. Prune "
            "its MLP channels alone with a width method (llm_pruner, flap, wanda_sp), or it "
            "with a depth method that removes whole blocks (depth_ppl, depth_taylor, "
            "depth_mag, depth_angular, sleb, shortgpt), both keeping every head; the hf, "
            "hf_static and compiled backends benchmark it")
    if is_moe(config):
        # (not SLEB for Jamba and Inkling 2, whose prunes remove whole periods or groups:
        # methods.sizing)
        sleb = "" if whole_period(config) else "sleb, "
        raise FamilyUnsupported(
            f"{what} does not support the mixture-of-experts family {config.model_type!r} "
            f"({family(config).model_class}): its experts are fused 3D parameters, whose "
            "channels prunebench's width surgery, sublayer removal, compiled decoder and "
            "adapters do not handle. Prune it with a depth method that removes whole blocks "
            f"(depth_ppl, depth_taylor, depth_mag, depth_angular, {sleb}shortgpt) and benchmark "
            "it with the hf or hf_static backend")


def heads_removable(config) -> bool:
    """Whether width pruning may remove heads of this model: not of an ALiBi one (BLOOM's,
    MPT's), whose slopes transformers computes from the config's head count, so that kept
    heads would take other slopes. Its MLP channels go alone: the uniform rules remove no KV
    group of it (`methods.sizing.shape_after_removal`), as they remove none of a multi-query
    model's one group below a ratio of 1 (Gemma 2B's), and FLAP's AL-AM pools no head of it."""
    return not family(config).alibi


def head_shards(config) -> int:
    """The shards whose heads width pruning keeps in equal numbers (`Family.qkv_shards`:
    CodeGen's 4, its qkv_proj's model-parallel shards); 1 for every other family."""
    return family(config).qkv_shards


# Config lists with one entry per block, which lose the removed blocks' entries
# (modeling.remove_blocks) and must hold one for every block (checked_config_json): each
# block's attention kind (Gemma-2/3, OLMo-3, Qwen; MiniMax-M2's `attn_type_list`, all full
# attention, which transformers does not read but other engines do), whether it rotates
# (SmolLM3's NoPE blocks: read when a block is built, so a saved checkpoint would otherwise
# reload its blocks with their neighbours' flags; Granite-SWA's and GraniteMoE-SWA's rotary
# base a block, `layer_rope_theta`, 0 for NoPE), its MLP kind (Cohere2-MoE's
# `mlp_layer_types`, "dense" / "sparse"), its width (a width-pruned checkpoint's shapes) and
# a value its module computes from the block's index (a depth-pruned DiffLlama's
# `layer_lambda_init`: modeling.BLOCK_CONSTANTS).
PER_BLOCK_CONFIG_LISTS = ("layer_types", "no_rope_layers", "layer_shapes", "attn_type_list",
                          "mlp_layer_types", "layer_rope_theta",
                          # Laguna's each block's query heads
                          "num_attention_heads_per_layer",
                          "attention_layers", "layer_lambda_init",
                          # GLM-MoE-DSA's each block's indexer kind
                          "indexer_types",
                          # Ling's each block's SwiGLU clipping (BailingHybridConfig checks
                          # there is one a block)
                          "expert_swiglu_limit_list", "share_expert_swiglu_limit_list",
                          # Gemma 3n's each block's MLP gate cutoff
                          "activation_sparsity_pattern")

# The blocks that hold attention by their indices (Bamba's attn_layer_indices: BambaConfig
# derives its layer_types from them, a property that cannot be set; LFM2's full_attn_idxs,
# from which Lfm2Config derives its layer_types where a config gives none).
# (Inkling's local_layer_ids: its windowed blocks, from which InklingTextConfig derives
# layer_types where a config.json gives none)
ATTENTION_INDEX_KEYS = ("attn_layer_indices", "full_attn_idxs", "local_layer_ids",
                        # (Zamba2's hybrid blocks: Zamba2Config sets a saved list over the one it
                        # derives from layers_block_type, so the kept blocks' new indices)
                        "hybrid_layer_ids",
                        # (Llama 3.2 Vision's cross-attention blocks, which MllamaTextModel
                        # builds and skips by these indices)
                        "cross_attention_layers")


def kept_block_lists(config, keep: list[int]) -> dict[str, Any]:
    """The config's per-block lists (`PER_BLOCK_CONFIG_LISTS`) of the blocks `keep` only, in
    order, as a model of those blocks reads them; a Bamba config's attention blocks' indices
    (`ATTENTION_INDEX_KEYS`) renumbered instead of its layer_types, which follow them (as
    Falcon-H1's follow its depth); an LFM2 config's full_attn_idxs renumbered beside its
    layer_types, so that the two still say the same blocks."""
    lists = {}
    for key in ATTENTION_INDEX_KEYS:
        indices = getattr(config, key, None)
        if indices is not None:
            lists[key] = [new for new, old in enumerate(keep) if old in indices]
    for key in PER_BLOCK_CONFIG_LISTS:
        if key == "layer_types" and _layer_types_derived(config):
            continue
        if getattr(config, key, None):
            lists[key] = [getattr(config, key)[i] for i in keep]
    linear = getattr(config, "linear_attn_config", None)
    if getattr(config, "model_type", None) == "kimi_linear" and isinstance(linear, dict) \
            and "kda_layers" in linear and "full_attn_layers" in linear:
        # KimiLinearConfig reads these (1-based) where a config.json gives no layer_types, as
        # other readers of Kimi Linear's config.json always do: the kept blocks' new numbers
        kinds = [config.layer_types[i] for i in keep]
        lists["linear_attn_config"] = {
            **linear, "kda_layers": [new + 1 for new, kind in enumerate(kinds)
                                     if kind == "linear_attention"],
            "full_attn_layers": [new + 1 for new, kind in enumerate(kinds)
                                 if kind == "full_attention"]}
    if family(config).griffin_blocks:
        # RecurrentGemmaConfig cycles block_types over the blocks: the kept blocks' kinds, one
        # a block, say each again (and the published config.json's copy, `_block_types`,
        # which other engines read, the same; read by index, not by num_hidden_layers, which
        # remove_blocks has already set to the kept depth)
        kinds = [config.block_types[i % len(config.block_types)] for i in keep]
        lists["block_types"] = kinds
        if getattr(config, "_block_types", None) is not None:
            lists["_block_types"] = kinds
    if getattr(config, "model_type", None) == "mimo_v2_flash":
        # (its published lists of the same kinds, read by other engines: MIMO_V2_FLASH_LISTS)
        lists.update({key: [getattr(config, key)[i] for i in keep]
                      for key in MIMO_V2_FLASH_LISTS
                      if isinstance(getattr(config, key, None), list)})
    if getattr(config, "model_type", None) == "kolibri1_1":
        # Kolibri1_1Config names blocks by index: the kept indexers and each kept block's keys'
        # source by their new numbers (a source goes only with its readers: broken_reads)
        new = {old: i for i, old in enumerate(keep)}
        lists["index_layers"] = [new[b] for b in config.index_layers if b in new]
        lists["kv_source_layers"] = [new[config.kv_source_layers[b]] for b in keep]
    if getattr(config, "model_type", None) == "qwen4_exp_text":
        # Qwen4ExpTextConfig's one-indexed per-layer embedding blocks: the kept ones' new
        # numbers (each keeps its rank: the PLE blocks removed are the last, ple_sources)
        lists["ple_layer_ids"] = [new + 1 for new, old in enumerate(keep)
                                  if old + 1 in (config.ple_layer_ids or [])]
    # (Dory's sections, whose sizes place each kept block in its own: DoryModel slices its
    # layers by them)
    lists.update(dory_sections(config, keep))
    if "attention_layers" in lists and getattr(config, "model_type", None) == "gpt_neo":
        # GPTNeoConfig expands attention_types into attention_layers whenever it is built (a
        # reload from config.json): the kept blocks' kinds, in order, as one pattern said once
        lists["attention_types"] = [[lists["attention_layers"], 1]]
    return lists


def kept_depth_scale(config, before: int, kept: int) -> dict[str, float]:
    """The config value that keeps each sublayer's scale of a model of `before` blocks in the
    `kept` blocks a depth prune leaves: MiniCPM3's blocks scale their sublayers' outputs by
    scale_depth / sqrt(num_hidden_layers), which a model reloaded with fewer blocks would
    compute larger, so scale_depth shrinks with the square root of the depth (MiniCPM3Config
    reads a None scale_depth as sqrt(num_hidden_layers), a scale of 1 at any depth). None to
    rewrite for other families."""
    key = family(config).depth_scale_key
    if key is None or getattr(config, key, None) is None:
        return {}
    return {key: getattr(config, key) * math.sqrt(kept / before)}


def _layer_types_derived(config) -> bool:
    """Whether the config's class derives its layer_types (a layers_block_type property that
    cannot be set: Bamba's from attn_layer_indices, Falcon-H1's "hybrid" for every block),
    which then follow the blocks without being set; MambaConfig's and FalconMambaConfig's
    layer_types property, "linear_attention" for every block)."""
    return any(isinstance(kinds := getattr(type(config), name, None), property)
               and kinds.fset is None for name in ("layers_block_type", "layer_types"))


def banded_static_cache_problem(config) -> str | None:
    """Why transformers' generate with a static cache computes another model than `config`'s,
    or None: a GPT-Neo model with local blocks, whose GPTNeoSelfAttention bands its scores by
    rows of its own causal buffer taken at the keys' count (key_length - query_length onwards),
    which a static cache makes the cache's length, not the position decoded: every local
    block's window lies at the cache's end (the tokens differ from its dynamic cache's, in
    5.17 and 5.25). Its global blocks' rows are causal alike at any offset."""
    if getattr(config, "model_type", None) != "gpt_neo":
        return None
    if "local" not in (getattr(config, "attention_layers", None) or ()):
        return None
    return ("the hf_static backend cannot run a GPT-Neo model with local attention blocks "
            f"(attention_layers {list(config.attention_layers)}): transformers' GPT-Neo "
            "bands a local block's scores by its own mask taken at the cache's length, so "
            "with a static cache each local block attends to the cache's last window_size "
            "slots, not its own, and its generate computes another model. Benchmark it with "
            "the hf or the compiled backend (both attend as its dynamic cache does)")


# The first transformers whose Dory reads a static cache with recurrent_kv_cache_mode
# "last_loop" (DoryPastReader; 5.24 reads the layer's whole static buffer)
DORY_LAST_LOOP_STATIC = "5.25"


def dory_last_loop_static_problem(config) -> str | None:
    """Why transformers' generate with a static cache cannot run this Dory model, or None:
    recurrent_kv_cache_mode "last_loop" on a transformers older than DORY_LAST_LOOP_STATIC."""
    from packaging.version import Version

    installed = installed_transformers()
    if (getattr(config, "model_type", None) != "dory"
            or getattr(config, "recurrent_kv_cache_mode", "per_loop") != "last_loop"
            or installed is None or Version(installed) >= Version(DORY_LAST_LOOP_STATIC)):
        return None
    return (f"the hf_static backend cannot run a Dory model with recurrent_kv_cache_mode "
            f"\"last_loop\" on transformers {installed}: its earlier loops read the last loop's "
            "static cache layer whole (every position the buffer holds) beside their own keys, "
            "so generate with a static cache fails at its first step. Benchmark it with the hf "
            f"backend, upgrade transformers ({DORY_LAST_LOOP_STATIC} reads it), or set "
            "recurrent_kv_cache_mode \"per_loop\" in its config.json")


def own_cache_static_problem(config) -> str | None:
    """Why transformers' generate with a static cache does not run `config`'s model on one, or
    None: MiniMax's (MiniMaxForCausalLM keeps its lightning attention's state in a cache of
    its own, MiniMaxCache, and generate ignores cache_implementation "static" for it, in 5.17
    and 5.25, with a warning: an hf_static row would time the dynamic cache under the static
    backend's name); OpenAI GPT's (OpenAIGPTLMHeadModel reads no cache at all: generate runs
    the whole sequence again at every step, whatever cache it makes, in 5.17 and 5.25);
    xLSTM's (xLSTMCache, ignored alike);
    DeepSeek-V4's (its compressors' cache layers, which StaticCache cannot build: generate
    fails, 5.24 and 5.25);
    RWKV's (RwkvForCausalLM keeps its state in five tensors of its own, passed as `state`, not
    in a Cache: generate ignores cache_implementation "static" for it with a warning, in 5.17
    and 5.25); a Llama 3.2 Vision model's whose first block is a cross-attention block (empty
    on text: the static cache's sequence length, read from it, stays 0, 5.17 and 5.25); a Dory
    model's with recurrent_kv_cache_mode "last_loop" on a transformers older than
    `DORY_LAST_LOOP_STATIC` (5.24's earlier loops concatenate the static layer's whole buffer
    with their own keys: generate fails at its first step, a RuntimeError of the mask's size)."""
    if problem := dory_last_loop_static_problem(config):
        return problem
    if getattr(config, "model_type", None) == "rwkv":
        return ("the hf_static backend cannot run an RWKV model: RwkvForCausalLM keeps its "
                "state in tensors of its own (`state`), not in a Cache, and transformers' "
                "generate ignores the static cache for it, so an hf_static row would time its "
                "own state under the static backend's name. Benchmark it with the hf backend")
    if getattr(config, "model_type", None) == "openai-gpt":
        return ("the hf_static backend cannot run an OpenAI GPT model: OpenAIGPTLMHeadModel "
                "reads no KV cache, so transformers' generate runs the whole sequence again "
                "at every step whatever cache it is given, and an hf_static row would time "
                "that under the static backend's name. Benchmark it with the hf backend (the "
                "same recomputation, named as it is) or the compiled one (its own KV cache)")
    if 0 in cross_attention_blocks(config):
        return ("the hf_static backend cannot run this Llama 3.2 Vision model: its first block "
                "is a cross-attention block, which holds nothing on text, and transformers' "
                "static cache reads the sequence length from the first block's entry, so "
                "generate decodes at the wrong positions (the published models' first block "
                "self-attends; a depth prune keeps it). Benchmark it with the hf backend")
    if getattr(config, "model_type", None) == "xlstm":
        return ("the hf_static backend cannot run an xLSTM model: xLSTMForCausalLM keeps its "
                "mLSTM states in a cache of its own (xLSTMCache), and transformers' generate "
                "ignores the static cache for it (\"This model does not support `Cache` "
                "instances\"), so an hf_static row would time its own cache under the static "
                "backend's name. Benchmark it with the hf backend")
    if getattr(config, "model_type", None) == "deepseek_v4":
        return ("the hf_static backend cannot run a DeepSeek-V4 model: its compressors keep "
                "their windows and compressed entries in cache layers of their own "
                "(DeepseekV4HCACache, DeepseekV4CSACache), which a static cache has no place "
                "for (transformers' generate with one fails: KeyError "
                "'compressed_sparse_attention'). Benchmark it with the hf backend")
    if getattr(config, "model_type", None) != "minimax":
        return None
    return ("the hf_static backend cannot run a MiniMax model: MiniMaxForCausalLM keeps its "
            "lightning attention's state in a cache of its own (MiniMaxCache), and transformers' "
            "generate ignores the static cache for it, so an hf_static row would time its "
            "dynamic cache. Benchmark it with the hf backend")


def batched_state_problem(config) -> str | None:
    """Why transformers' generate cannot decode more than one sequence at a time of `config`'s
    model, or None: RWKV's (a decode step's RwkvSelfAttention and RwkvFeedForward mix its new
    token, [batch, 1,
    hidden], with its state's last input, [batch, hidden], which broadcast to [batch, batch,
    hidden]: each sequence's step reads every other's, its logits [batch, batch, vocab], in
    5.17 and 5.25; one sequence decodes as the model without a state does)."""
    if not family(config).rwkv_blocks:
        return None
    return ("the hf backend cannot decode a batch of more than one sequence of an RWKV model: "
            "transformers' time and channel mixing broadcast a decode step's new tokens "
            "[batch, 1, hidden] against the state's [batch, hidden] to [batch, batch, hidden], "
            "so each sequence's step reads every other's and generate computes another model, "
            "batch times the work (identical prompts too, as the benchmark's). Benchmark it at batch size 1 alone: benchmark.batch_sizes [1] (and "
            "benchmark.paired.batch_sizes [1] where set)")


# MiMo-V2-Flash's published config.json keys for each block's kinds (0 full attention / 1
# sliding; 0 dense / 1 sparse), which MiMoV2FlashConfig does not read (5.17, 5.25) but other
# engines do: a depth prune keeps their kept blocks' entries (kept_block_lists).
MIMO_V2_FLASH_LISTS = {"hybrid_layer_pattern": ("layer_types", "full_attention"),
                       "moe_layer_freq": ("mlp_layer_types", "dense")}


def dory_sections(config, keep: list[int]) -> dict[str, int]:
    """A Dory config's three section sizes for the blocks `keep` (each kept block stays in its
    section: a removed recurrent block leaves every loop); none for other families."""
    if getattr(config, "model_type", None) != "dory":
        return {}
    first = config.n_input_layers
    last = first + config.n_recurrent_layers
    return {"n_input_layers": sum(i < first for i in keep),
            "n_recurrent_layers": sum(first <= i < last for i in keep),
            "n_output_layers": sum(i >= last for i in keep)}
