"""Qwen4-Exp's language model (qwen4_exp_text, Qwen4ExpForCausalLM, transformers 5.23 on), a
mixture of experts of Gated DeltaNet and indexed-attention blocks over hc_count residual
streams, some blocks with a per-layer n-gram embedding (PLE) whose table follows the block's
rank in ple_layer_ids: the release refusal (5.17 to 5.22); exact counts (against
transformers' models with one and two PLE blocks, config.json's values alone, the published
defaults' table rows); depth pruning equal to transformers' model of the kept blocks
(ple_layer_ids renumbered, the indexed blocks written as full_attention, the tables saved in
split_ngram_parts shards) and decoding as its generate with the dynamic and static caches;
the refusals (a PLE block before a kept one, no indexed block left, config.json's keys
transformers does not build); every depth criterion pruning it over its streams; the
multimodal qwen4_exp checkpoint taken apart; the prune command end to end."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from safetensors.torch import load_file

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, ple_table_shape,
                                               transformers_release_problem)
from prunebench.methods import depth, depth_angular, depth_mag, depth_taylor, shortgpt, sleb
from prunebench.methods.sizing import (depth_removable, may_remove, size_choice, size_mixes,
                                      sized_by_mix)
from prunebench.modeling import joined_ngram_tables, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB, in_allocated_memory
from test_families import tokenizer  # noqa: F401 - a fixture
from test_glm4_moe import check_loads_as_transformers, check_refused_as_a_mixture_of_experts
from test_qwen3_next import check_hf_backends_decode_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NEEDS = transformers_release_problem("qwen4_exp_text")
needs_release = pytest.mark.skipif(NEEDS is not None, reason=str(NEEDS))

LINEAR, INDEXED = "linear_attention", "full_attention"
# Six blocks, two Gated DeltaNet ones then an indexed one, twice; PLE on blocks 1 and 3.
KINDS = [LINEAR, LINEAR, INDEXED] * 2
PLE = [2, 4]  # (one-indexed, as ple_layer_ids)


def small(ple=PLE, **over):
    """A tiny Qwen4-Exp config: two streams, four experts, the indexer choosing 4 of a
    prompt's tokens (blocks of 2) and n-gram tables of about a hundred rows (bigrams, two
    hashed heads from 50 on), not Qwen4ExpTextConfig's 320 million."""
    from transformers import Qwen4ExpTextConfig

    values = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=6, num_attention_heads=2,
                  num_key_value_heads=1, head_dim=16, linear_conv_kernel_dim=2,
                  linear_key_head_dim=8, linear_value_head_dim=8, linear_num_key_heads=2,
                  linear_num_value_heads=2, moe_intermediate_size=16,
                  shared_expert_intermediate_size=16, num_experts=4, num_experts_per_tok=2,
                  layer_types=list(KINDS), hc_count=2, hc_lowrank=4, ple_layer_ids=list(ple),
                  ngram_size=2, heads_per_ngram=2, ngram_vocab_size_base=50,
                  make_ngram_vocab_size_divisible_by=8, split_ngram_parts=2,
                  indexer_n_heads=2, indexer_kv_heads=1, indexer_head_dim=16, indexer_budget=4,
                  indexer_compress_ratio=2, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                  rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                   "partial_rotary_factor": 0.5, "mrope_section": [2, 1, 1]})
    return Qwen4ExpTextConfig(**{**values, **over})


# The config.json of small()'s shape, as far as prunebench's readers need it.
RAW = {"model_type": "qwen4_exp_text", "layer_types": KINDS, "ple_layer_ids": PLE,
       "eos_token_id": 2, "vocab_size": VOCAB, "hidden_size": 32, "num_hidden_layers": 6,
       "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "ngram_size": 2,
       "heads_per_ngram": 2, "num_experts": 4, "num_experts_per_tok": 2,
       "indexer_n_heads": 2, "indexer_kv_heads": 1, "indexer_head_dim": 16, "indexer_budget": 4,
       "indexer_compress_ratio": 2}


@pytest.fixture(scope="module")
def base():
    if NEEDS:
        pytest.skip(NEEDS)
    return random_model(small())


def model_copy(base):
    return copy.deepcopy(base)


def test_releases_before_5_23_are_refused_naming_the_nan_rows():
    """5.17 to 5.22 build the model but give a left-padded batch's rows NaN logits under eager
    attention: the family needs 5.23, which the refusal names with why."""
    from packaging.version import Version
    import transformers

    if Version(transformers.__version__) >= Version("5.23"):
        assert NEEDS is None
    else:
        assert "5.23" in NEEDS and "NaN" in NEEDS and "Qwen4ExpForCausalLM" in NEEDS


@needs_release
@pytest.mark.parametrize("ple, bias", [([2], False), (PLE, True), ([], False)])
def test_counts_equal_transformers_parameters(ple, bias):
    """One PLE block, two (their tables of other rows), none; attention biases or not: the
    closed form, and config_from_dict of the config.json values, equal transformers' model's
    num_parameters (its hash buffers no parameters)."""
    from transformers import Qwen4ExpForCausalLM

    config = small(ple, attention_bias=bias)
    with torch.device("meta"):
        theirs = Qwen4ExpForCausalLM(config).num_parameters()
    assert count_params(config) == theirs
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == theirs


@needs_release
def test_the_published_tables_are_the_classes_rows_at_each_rank():
    """Qwen4ExpTextConfig's n-gram defaults: the table of the first PLE block holds 320,001,536
    rows of 128, the second's 320,005,120, as transformers' embedding of each rank builds
    them (on the meta device)."""
    from transformers import Qwen4ExpTextConfig
    from transformers.models.qwen4_exp.modeling_qwen4_exp import Qwen4ExpTextNGramEmbedding

    config = Qwen4ExpTextConfig(ple_layer_ids=[1, 2], eos_token_id=2)
    for rank, rows in enumerate((320_001_536, 320_005_120)):
        with torch.device("meta"):
            table = Qwen4ExpTextNGramEmbedding(config, config.ple_embed_dim, rank, rank)
        assert ple_table_shape(config, rank) == tuple(table.ngram_embedding.weight.shape) \
            == (rows, 128)


def kept_blocks_model(model, keep: list[int]):
    """transformers' own model of `model`'s blocks `keep`: a config of that depth, the kept
    blocks' layer_types and ple_layer_ids renumbered, given those weights."""
    from transformers import Qwen4ExpForCausalLM

    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    config.layer_types = [config.layer_types[i] for i in keep]
    config.ple_layer_ids = [new + 1 for new, old in enumerate(keep)
                            if old + 1 in model.config.ple_layer_ids]
    kept = Qwen4ExpForCausalLM(config).eval()
    kept.load_state_dict(joined_ngram_tables(kept_blocks_state(model, keep)), strict=True)
    return kept


@needs_release
@pytest.mark.parametrize("drop", [[0], [2], [3], [1, 3], [0, 3, 5]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(base, drop, tmp_path):
    """Removing a block without PLE, an indexed block, the last PLE block or both: the pruned
    model, and its save reloaded by prunebench and by transformers, compute the logits of
    transformers' model of the kept blocks (ple_layer_ids renumbered, every kept mixer, indexer,
    PLE and n-gram embedding at its new index); config.json names the indexed blocks
    full_attention (every release reads it) and holds each table in its shards."""
    from transformers import Qwen4ExpForCausalLM

    model, keep = model_copy(base), [i for i in range(6) if i not in drop]
    x = ids(2, 10)
    expected = logits(kept_blocks_model(model, keep), x)
    remove_blocks(model, drop)
    assert model.config.ple_layer_ids == [new + 1 for new, old in enumerate(keep)
                                          if old + 1 in PLE]
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, x), expected)
    save_model(model, None, tmp_path / "pruned")
    written = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert written["layer_types"] == [KINDS[i] for i in keep]
    names = set(load_file(tmp_path / "pruned" / "model.safetensors"))
    tables = sorted(n for n in names if "ngram_embedding" in n)
    assert tables == [f"model.layers.{keep.index(b)}.ple.ple_embedding.ngram_embedding."
                      f"shard_{i}.weight" for b in (1, 3) if b in keep for i in range(2)]
    checked_config_json(tmp_path / "pruned")  # (read by prunebench's own checks too)
    again = load_model(tmp_path / "pruned")
    assert torch.equal(logits(again, x), expected)
    theirs = in_allocated_memory(Qwen4ExpForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    assert torch.equal(logits(theirs, x), expected)


@needs_release
def test_a_depth_pruned_reload_decodes_as_transformers_generate(base, tmp_path):
    """Blocks 0 and 3 removed (the last PLE block among them), saved and reloaded: the hf and
    hf_static backends' tokens equal transformers' generate and greedy decoding without a
    cache (each kept block's Gated DeltaNet, PLE and n-gram states, its indexer's keys, at its
    new cache index)."""
    from transformers import Qwen4ExpForCausalLM

    model = model_copy(base)
    remove_blocks(model, [0, 3])
    save_model(model, None, tmp_path / "pruned")
    ours = load_model(tmp_path / "pruned")
    theirs = in_allocated_memory(Qwen4ExpForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    check_hf_backends_decode_as_transformers(ours, theirs)
    # (the pruned model itself, its modules renumbered in place by remove_blocks)
    check_hf_backends_decode_as_transformers(model, theirs)


def held_bytes(cache) -> int:
    """The bytes of every tensor transformers' cache holds (keys, values, the indexers' keys
    and positions, the conv, recurrent, PLE and n-gram states), but its linear layers' length
    counters (one int64 each, bookkeeping)."""
    total = 0
    for layer in cache.layers:
        for name, held in vars(layer).items():
            for tensor in (held.values() if isinstance(held, dict) else held
                           if isinstance(held, list) else [held]):
                if isinstance(tensor, torch.Tensor) and not name.startswith("cumulative"):
                    total += tensor.nbytes
    return total


@needs_release
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(base, dtype):
    """kv_cache_bytes: the attention blocks' keys, values and indexer keys of the positions
    seen, the shared position history, each Gated DeltaNet block's state and each PLE block's
    convolution state and last token ids, equal to what transformers' cache holds after a
    prefill; a model without its last PLE block too."""
    from prunebench.benchmark.floors import kv_cache_bytes

    model = model_copy(base).to(dtype)
    for drop in ([], [3]):
        remove_blocks(model, drop)
        for batch, length in ((1, 5), (2, 9)):
            with torch.no_grad():
                cache = model(input_ids=ids(batch, length), use_cache=True).past_key_values
            assert held_bytes(cache) == kv_cache_bytes(model.config, batch, length, dtype)


@needs_release
def test_removing_a_ple_block_before_a_kept_one_is_refused(base):
    """Block 1's table (rank 0) gone while block 3's stays would reload block 3's at rank 0,
    another hash and other rows (transformers refuses the weights); the removal is refused
    naming both, the model left whole, and no depth method may choose it."""
    from transformers import Qwen4ExpForCausalLM

    model = model_copy(base)
    before = logits(model, ids())
    with pytest.raises(PrunebenchError, match=r"removing blocks \[1\] would remove per-layer "
                                              r"embedding block\(s\) \[1\] of this Qwen4-Exp "
                                              r"model and keep later ones \(\[3\].*only the last"):
        remove_blocks(model, [1])
    assert model.config.num_hidden_layers == 6 and model.config.ple_layer_ids == PLE
    assert torch.equal(logits(model, ids()), before)
    config = copy.deepcopy(model.config)
    config.num_hidden_layers, config.layer_types = 5, KINDS[:1] + KINDS[2:]
    config.ple_layer_ids = [3]
    with pytest.raises(RuntimeError, match="size mismatch"):
        Qwen4ExpForCausalLM(config).load_state_dict(
            joined_ngram_tables(kept_blocks_state(model, [0, 2, 3, 4, 5])))
    assert not may_remove(model.config, [1]) and may_remove(model.config, [1, 3])
    assert depth_removable(model.config, 0, 3) == [0, 2]  # (block 1 read by protected 3)


@needs_release
def test_removing_every_indexed_block_is_refused_before_anything_changes(base):
    """Without an attention block transformers sizes no mask (as Qwen3-Next's): refused naming
    the indexed blocks, the model left whole."""
    model = model_copy(base)
    with pytest.raises(PrunebenchError, match=r"removing blocks \[2, 5\] would leave this "
                                              r"Qwen4-Exp model Gated DeltaNet blocks only "
                                              r"\(its full-attention blocks are \[2, 5\]\)"):
        remove_blocks(model, [5, 2])
    assert model.config.num_hidden_layers == 6


@pytest.mark.parametrize("change, refused", [
    ({"indexer_head_dim": None}, "gives no indexer_head_dim"),
    ({"ple_layer_ids": [3]}, r"gives ple_layer_ids \[3\], not one-indexed Gated DeltaNet"),
    ({"eos_token_id": None}, "gives ple_layer_ids but no eos_token_id"),
    ({"layer_types": [LINEAR] * 6}, "gives no 'full_attention' block"),
])
def test_config_jsons_transformers_does_not_build_are_refused_when_read(change, refused,
                                                                        tmp_path):
    """Read without transformers (any release): an indexed block without the indexer's keys,
    a PLE entry on an indexed block, PLE without eos_token_id, no indexed block."""
    (tmp_path / "config.json").write_text(json.dumps({**RAW, **change}))
    with pytest.raises(PrunebenchError, match=refused):
        checked_config_json(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(RAW))
    checked_config_json(tmp_path)


@pytest.mark.parametrize("method", ["flap", "llm_pruner", "wanda_sp", "blockpruner", "compiled"])
def test_width_methods_the_compiled_backend_and_expert_lora_targets_are_refused(method):
    """As every mixture of experts (any release: read from config.json's values): the width
    methods, BlockPruner and the compiled backend refused naming the depth methods, LoRA on the
    experts' projections refused naming the attention's."""
    check_refused_as_a_mixture_of_experts(config_from_dict(RAW), method, "Qwen4ExpForCausalLM")


@needs_release
def test_lora_adapts_the_attention_blocks_projections(base):
    """LoRA's attention targets are the indexed blocks' projections (the Gated DeltaNet
    blocks hold none; the indexer's index_qk_proj is no target)."""
    from prunebench import lora

    chosen, _ = lora.lora_target_names(model_copy(base), ["q_proj", "k_proj", "v_proj",
                                                          "o_proj"])
    assert chosen == [f"model.layers.{b}.self_attn.{name}" for b in (2, 5)
                      for name in ("q_proj", "k_proj", "v_proj", "o_proj")]


@needs_release
def test_a_plan_by_size_mix_keeps_the_ple_rule_whatever_the_scores():
    """Its blocks are of four sizes (each PLE table's rows follow its rank), so its depth plans
    say how many blocks of each size go (sizing.sized_by_mix): only mixes some removal keeping
    every kept PLE block's rank makes, and for each the one-shot criteria's choice keeps the
    rule whichever block scores least (the first PLE block too: its removal alone would
    reload the second at another rank)."""
    config, removable = small(), list(range(6))
    assert sized_by_mix(config, removable)
    for mix, blocks in size_mixes(config, removable).items():
        assert may_remove(config, blocks)
        for least in removable:
            scores = [1.0 if b != least else 0.0 for b in removable]
            assert may_remove(config, size_choice(config, removable, scores, mix))


@needs_release
@pytest.mark.parametrize("criterion", ["depth_ppl", "shortgpt", "depth_mag", "depth_taylor",
                                       "sleb", "depth_angular"])
def test_every_depth_criterion_prunes_it_keeping_the_ple_rule(base, criterion):
    """Two blocks to go: each criterion scores the model (ShortGPT and the angular distance
    over the hc_count streams a block passes on) and removes blocks that leave every kept PLE
    block at its rank and an indexed block; the pruned model runs."""
    model = model_copy(base)
    config = copy.deepcopy(model.config)
    calibration, off = ids(2, 12), {"protect_first": 0, "protect_last": 0}
    target = count_params(config) - 2 * count_params(config) // 15
    module = {"depth_ppl": depth, "shortgpt": shortgpt, "depth_mag": depth_mag,
              "depth_taylor": depth_taylor, "sleb": sleb, "depth_angular": depth_angular}
    prune = module[criterion].prune_ppl if criterion == "depth_ppl" else \
        module[criterion].prune
    report = prune(model, calibration, target, **off)
    removed = report["removed_blocks"]
    assert removed and may_remove(config, removed)
    assert numel(model) == count_params(model.config)
    assert torch.isfinite(logits(model, ids())).all()


@needs_release
def test_the_multimodal_checkpoint_is_taken_apart_to_its_language_model(
        tmp_path, tokenizer):  # noqa: F811
    """A qwen4_exp checkpoint as transformers saves it (Qwen4ExpForConditionalGeneration: a
    ViT beside the language model, its experts one at a time, its n-gram tables in shards)
    imported: the kept language model computes the whole model's logits on text and loads in
    transformers as in prunebench."""
    from transformers import Qwen4ExpConfig, Qwen4ExpForConditionalGeneration

    from prunebench.checkpoint.local_import import import_local

    vision = dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, patch_size=2,
                  temporal_patch_size=1, spatial_merge_size=1, out_hidden_size=32,
                  num_position_embeddings=16)
    config = Qwen4ExpConfig(text_config=small().to_dict(), vision_config=vision,
                            image_token_id=VOCAB - 3, video_token_id=VOCAB - 2,
                            vision_start_token_id=VOCAB - 4, vision_end_token_id=VOCAB - 1)
    torch.manual_seed(0)
    whole = Qwen4ExpForConditionalGeneration(config).eval()
    whole.save_pretrained(tmp_path / "published")
    tokenizer.save_pretrained(tmp_path / "published")
    x = ids(2, 10)
    expected = logits(whole, x)
    imported = import_local(f"local:{tmp_path / 'published'}", tmp_path / "imported")
    text = load_model(imported)
    assert text.config.model_type == "qwen4_exp_text"
    assert numel(text) == count_params(text.config)
    torch.testing.assert_close(logits(text, x), expected, atol=1e-5, rtol=0)
    check_loads_as_transformers(text, imported)


@needs_release
def test_the_prune_command_prunes_a_transformers_checkpoint_end_to_end(
        base, tmp_path, tokenizer):  # noqa: F811
    """`prunebench prune` of a folder transformers saved (its tables in shards, its indexed
    blocks named indexed_attention): the pruned checkpoint loads in transformers and computes
    prunebench's logits, its blocks the kept ones."""
    from transformers import Qwen4ExpForCausalLM

    from prunebench.cli import main

    base.save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    out = tmp_path / "pruned"
    size = str(count_params(base.config) - 2 * count_params(base.config) // 7)
    assert main(["prune", str(tmp_path / "base"), "--method", "depth_mag", "--size", size,
                 "--out", str(out), "--param", "protect_first=0", "--param",
                 "protect_last=0", "--device", "cpu", "-q"]) == 0
    removed = json.loads((out / "prune_report.json").read_text())["method_report"][
        "removed_blocks"]
    assert len(removed) == 2 and may_remove(base.config, removed)
    ours = load_model(out / "checkpoint")
    assert json.loads((out / "checkpoint" / "config.json").read_text())["layer_types"] == [
        KINDS[i] for i in range(6) if i not in removed]
    theirs = in_allocated_memory(Qwen4ExpForCausalLM.from_pretrained(
        out / "checkpoint", dtype=torch.float32)).eval()
    assert torch.equal(logits(ours, ids()), logits(theirs, ids()))
    assert numel(ours) == count_params(ours.config)
