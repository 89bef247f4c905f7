"""Nemotron-H (nemotron_h, NemotronHForCausalLM: Nemotron-H-8B / 47B / 56B, Nemotron Nano 2):
each block one mixer behind its own norm, a Mamba-2 mixer (M), attention without rotary (*)
or a relu2 MLP (-), as hybrid_override_pattern / layers_block_type says; depth pruning of
single blocks and the hf / hf_static backends.

Exact counts against transformers' meta models, config.json's values alone (the published
hybrid_override_pattern and the Mamba-2 keys' older names) and by hand; depth pruning of each
kind of block equal to transformers' model of the kept blocks (the pattern rewritten), its save
reloaded by prunebench and by transformers; the hf and hf_static tokens of a depth-pruned model
equal to transformers' generate and to greedy decoding without a cache; kv_cache_bytes equal to
what transformers' cache holds; the refusals (width methods, surgery, the compiled decoder,
blocks of experts, the blocks a prune must keep, config.json kinds transformers cannot run)."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, NemotronHConfig, NemotronHForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, depth_kept_blocks, layer_shapes,
                                               mamba_params)
from prunebench.methods.sizing import removable_blocks
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB, in_allocated_memory
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers, check_cache_bytes

pytestmark = pytest.mark.usefixtures("one_thread")

MAMBA, ATTENTION, MLP = "linear_attention", "full_attention", "mlp"
# Seven blocks as the published models begin (Mamba-2 first, MLPs between, attention one
# block in a few): M - M * - M *
PATTERN = "M-M*-M*"
KINDS = [MAMBA, MLP, MAMBA, ATTENTION, MLP, MAMBA, ATTENTION]


def small(**over) -> NemotronHConfig:
    """A small Nemotron-H: attention of 4 query heads of 8 on 2 KV heads; Mamba-2 of 4 heads
    of 16 in 2 groups with a state of 8, chunks of 4 tokens; relu2 MLPs of 48; untied."""
    values = dict(vocab_size=VOCAB, hidden_size=32, hybrid_override_pattern=PATTERN,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                  intermediate_size=48, mamba_num_heads=4, mamba_head_dim=16, n_groups=2,
                  ssm_state_size=8, conv_kernel=4, chunk_size=4, max_position_embeddings=128,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return NemotronHConfig(**{**values, **over})


def kinds_of(model) -> list[str]:
    """Each block's mixer as built."""
    names = {"NemotronHMamba2Mixer": MAMBA, "NemotronHAttention": ATTENTION, "NemotronHMLP": MLP}
    return [names[type(layer.mixer).__name__] for layer in model.model.layers]


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("over", [
    {}, {"use_bias": True, "mlp_bias": True}, {"use_conv_bias": False},
    {"hybrid_override_pattern": "M*M*-", "head_dim": 12, "mamba_head_dim": 8, "n_groups": 4}])
def test_counts_equal_transformers_parameters(over, tmp_path):
    """Mamba-2 biases (in_proj / out_proj by use_bias, conv1d by use_conv_bias), MLP biases,
    head widths of their own and other patterns: the closed form equals transformers' meta
    model, and so does the count of the config.json it writes read alone."""
    config = small(**over)
    meta = build_model(config, device="meta")
    assert count_params(config) == numel(meta)
    config.save_pretrained(tmp_path)
    assert count_params(config_from_dict(checked_config_json(tmp_path))) == numel(meta)


def test_a_published_config_json_counts_as_transformers_builds_it(tmp_path):
    """The published form: hybrid_override_pattern with num_hidden_layers, the Mamba-2 keys
    under their older names (mamba_n_groups, mamba_d_conv, mamba_conv_bias), no
    layers_block_type: read alone, the count and the blocks are what NemotronHConfig builds."""
    config = small(n_groups=4, conv_kernel=3, use_conv_bias=False)
    raw = {key: value for key, value in config.to_dict().items()
           if key not in ("layers_block_type", "n_groups", "conv_kernel", "use_conv_bias")}
    raw.update(hybrid_override_pattern=PATTERN, num_hidden_layers=len(PATTERN),
               mamba_n_groups=4, mamba_d_conv=3, mamba_conv_bias=False)
    (tmp_path / "config.json").write_text(json.dumps(raw))
    counted = config_from_dict(checked_config_json(tmp_path))
    assert counted.layer_types == KINDS and counted.num_hidden_layers == 7
    assert count_params(counted) == numel(build_model(config, device="meta"))


def test_the_count_is_the_sum_of_each_part_by_hand():
    """small(): the Mamba-2 mixer's inner width 4 x 16 = 64, conv channels 64 + 2 x 2 x 8 = 96,
    in_proj 32 x (64 + 96 + 4), conv1d 96 x 4 + 96, dt_bias / A_log / D 3 x 4, its gated norm
    64, out_proj 64 x 32: 5,248 + 480 + 12 + 64 + 2,048 = 7,852; attention 2 x 32 x 32 +
    2 x 32 x 16 = 3,072; an MLP 2 x 32 x 48 = 3,072; each block's norm 32; embeddings, the
    LM head and norm_f 2 x 128 x 32 + 32."""
    config = small()
    assert mamba_params(config) == 7852
    blocks = 3 * (32 + 7852) + 2 * (32 + 3072) + 2 * (32 + 3072)
    assert count_params(config) == blocks + 2 * VOCAB * 32 + 32
    assert [s["num_key_value_heads"] for s in layer_shapes(config)] == [0, 0, 0, 2, 0, 0, 2]


# --------------------------------------------------------------------------- depth

def kept_blocks_model(model, keep: list[int]) -> NemotronHForCausalLM:
    """transformers' own model of `model`'s blocks `keep` (renumbered): a config whose
    layers_block_type is the kept blocks' own, given those weights."""
    config = copy.deepcopy(model.config)
    config.layers_block_type = [config.layers_block_type[i] for i in keep]
    kept = NemotronHForCausalLM(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept


@pytest.mark.parametrize("drop", [[1], [2], [3], [1, 2, 6], [4, 5]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """Removing MLP, Mamba-2 or attention blocks: the pruned model, and its save reloaded by
    prunebench and by transformers, compute the logits of transformers' model of the kept
    blocks, each block of the kind it was (layers_block_type rewritten: the pattern of the
    kept blocks), each Mamba-2 and attention mixer under its new index (the cache's)."""
    model = random_model(small())
    keep = [i for i in range(7) if i not in drop]
    kinds = [KINDS[i] for i in keep]
    x = ids()
    expected = logits(kept_blocks_model(model, keep), x)
    remove_blocks(model, drop)
    assert model.config.layer_types == kinds == kinds_of(model)
    assert model.config.hybrid_override_pattern == "".join(PATTERN[i] for i in keep)
    assert model.config.num_hidden_layers == len(keep)
    for new, layer in enumerate(model.model.layers):
        assert layer.layer_idx == new
        assert getattr(layer.mixer, "layer_idx", new) == new
    written = check_saved_and_reloaded(model, x, expected, tmp_path / "pruned", kinds_of)
    assert written["layers_block_type"] == kinds


def check_saved_and_reloaded(model, x, expected, folder, kinds_of=None) -> dict:
    """A depth-pruned `model`, counted as it is built and computing `expected` (logits of `x`),
    saved to `folder`: its config.json read alone counts it, and its reloads by prunebench and
    by transformers (AutoModelForCausalLM) compute `expected` too, with the blocks `kinds_of`
    reads as the model's. Returns the config.json written."""
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, x), expected)
    save_model(model, None, folder)
    assert count_params(config_from_dict(checked_config_json(folder))) == numel(model)
    again = load_model(folder)
    theirs = in_allocated_memory(AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.float32)).eval()
    if kinds_of is not None:
        assert kinds_of(again) == kinds_of(theirs) == kinds_of(model)
    assert torch.equal(logits(again, x), expected)
    assert torch.equal(logits(theirs, x), expected)
    return json.loads((folder / "config.json").read_text())


@pytest.mark.parametrize("drop", [[1], [3], [2, 4]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """A depth-pruned model reloaded: the hf backend's tokens equal transformers' generate of
    its own loading of the checkpoint, and greedy decoding without a cache wherever that
    choice is certain; so do hf_static's. The Mamba-2 mixer runs transformers' PyTorch
    fallback on the CPU."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small()), drop, NemotronHForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(dtype):
    """kv_cache_bytes: the attention blocks' keys and values of the positions seen, each
    Mamba-2 block's state of one size whatever the length (conv state in the model's dtype,
    SSM state in float32) and nothing for an MLP block, equal to the tensors transformers'
    cache holds after a prefill; a depth-pruned model's (without its MLP block 1) too."""
    check_cache_bytes(random_model(small()).to(dtype), dtype)


def test_the_first_block_is_kept_by_every_depth_method_and_refused_to_remove_blocks():
    """Removing block 0 would leave block 1, an MLP, first, which transformers 5.25's cache
    cannot decode (its sequence length is read from the first block's entry): no depth
    method takes it as a candidate, and remove_blocks refuses it with the model left whole."""
    config = small()
    assert depth_kept_blocks(config) == [0]
    assert 0 not in removable_blocks(7, 0, 0, depth_kept_blocks(config))
    model = random_model(config)
    x = ids()
    before = logits(model, x)
    with pytest.raises(PrunebenchError, match=r"removing blocks \[0\] would remove block 0 of "
                                              r"this Nemotron-H model.*MLP block"):
        remove_blocks(model, [0])
    assert model.config.layer_types == KINDS and torch.equal(logits(model, x), before)


def test_removing_every_attention_block_is_refused_before_anything_changes():
    """Without an attention block transformers' cache cannot size the masks: the removal is
    refused, naming the attention blocks and what to do; the model is left whole, and
    transformers' own model of those blocks stops generate with a ValueError."""
    check_removing_every_attention_block_is_refused(
        random_model(small()), [6, 3], r"removing blocks \[3, 6\] would leave this Nemotron-H "
        r"model Mamba-2 and MLP blocks only \(its full-attention blocks are \[3, 6\]\)",
        KINDS, lambda model: kept_blocks_model(model, [0, 1, 2, 4, 5]))


def check_removing_every_attention_block_is_refused(model, blocks, said, kinds,
                                                    kept_model) -> None:
    """Removing `blocks` (every attention block of a hybrid `model`) is refused as `said`
    (a regex), the model left whole (its layer_types still `kinds`, its logits the same), and
    transformers' own model of the kept blocks, `kept_model(model)`, stops generate with a
    ValueError (also Bamba's: tests/test_bamba_falcon_h1.py)."""
    x = ids()
    before = logits(model, x)
    with pytest.raises(PrunebenchError, match=said):
        remove_blocks(model, blocks)
    assert model.config.layer_types == kinds and torch.equal(logits(model, x), before)
    with pytest.raises(ValueError), torch.no_grad():
        kept_model(model).generate(input_ids=x, max_new_tokens=2, do_sample=False, pad_token_id=0)


# --------------------------------------------------------------------------- refusals

def test_width_methods_surgery_and_the_compiled_backend_are_refused():
    """Each block holds one mixer: a width method's plan, width surgery and the compiled
    decoder refuse it, naming its pattern, the depth methods and the hf backends."""
    check_width_and_compiled_refused(
        small(), r"this 'nemotron_h' model \(NemotronHForCausalLM\): each of its blocks holds "
                 r"one mixer \('M-M\*-M\*'")


def test_blocks_of_experts_are_refused_when_counted_and_when_read(tmp_path):
    """Nemotron 3's blocks of experts (E) are not supported: counting such a config, and
    reading its config.json, are refused naming the blocks and the supported models."""
    config = small(hybrid_override_pattern="ME*-")
    with pytest.raises(FamilyUnsupported, match=r"blocks of experts \(blocks \[1\]"):
        count_params(config)
    config.save_pretrained(tmp_path)
    with pytest.raises(PrunebenchError, match=r"config.json describes a model prunebench does "
                                              r"not support.*blocks of experts.*Nemotron Nano 2"):
        checked_config_json(tmp_path)


@pytest.mark.parametrize("pattern, said", [
    ("M-M-", "gives no attention block"), ("-M*M", "gives an MLP block first"),
    ("M*X-", r"gives block kinds \['X'\]")])
def test_a_config_json_transformers_cannot_run_is_refused(pattern, said, tmp_path):
    """A pattern without an attention block (no cached forward runs), with an MLP block first
    (5.25's cache stops) or with a character no mixer is built for is refused as read."""
    raw = small().to_dict()
    del raw["layers_block_type"]
    raw["hybrid_override_pattern"] = pattern
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match=f"config.json {said}.*re-download or rebuild"):
        checked_config_json(tmp_path)


def test_tied_embeddings_are_refused_as_read(tmp_path):
    """NemotronHForCausalLM ties nothing whatever tie_word_embeddings says: a config.json that
    sets it is refused (the counts and the loader would take its LM head for the
    embedding)."""
    raw = small().to_dict()
    raw["tie_word_embeddings"] = True
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match="sets tie_word_embeddings.*set it to false"):
        checked_config_json(tmp_path)


def test_the_start_refuses_the_compiled_backend_for_a_nemotron_h_model(tmp_path):
    """A Nemotron-H model whose config is known at the start (a local folder) is told of the
    compiled backend there, naming its Mamba-2 blocks, not by its benchmark job."""
    check_the_start_refuses_the_compiled_backend(small(), tmp_path)


def check_the_start_refuses_the_compiled_backend(config, tmp_path) -> None:
    """A model of `config` (a hybrid with Mamba-2 mixers) given as a local folder: the start's
    check tells of the compiled backend, naming its family and its Mamba-2 mixers, and that
    hf and hf_static run it."""
    from prunebench.plan.checks import moe_problems

    config.save_pretrained(tmp_path / "hybrid")
    runs = {"models": {"hybrid": {"source": f"local:{tmp_path / 'hybrid'}",
                                  "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problem, = moe_problems(runs, tmp_path / "nowhere")
    assert problem.startswith(f"models.hybrid ({config.model_type}) ") and "Mamba-2" in problem
    assert "take 'compiled' out of benchmark.backends (hf and hf_static run it)" in problem
