"""Gemma 3n's language model (gemma3n_text, Gemma3nForCausalLM), depth pruning and the hf /
hf_static backends: each block an AltUp over several residual streams, a LAuReL low-rank
residual, a per-layer input (its slice of the packed per-layer embedding and projection), a
gaussian top-k cutoff on the first blocks' MLP gates (activation_sparsity_pattern), an MLP
width of its own (intermediate_size, a list) and, on the last num_kv_shared_layers blocks,
an earlier block's keys and values.

Checked against transformers' own classes (5.17 and 5.25): the counts against its meta
model, from config.json alone and by hand; a depth prune equal to transformers' model of the
kept blocks (built here from the per-block lists and tables by hand, not by prunebench),
reloaded by prunebench and transformers, each per-block list and table shown to matter; the
blocks whose keys later blocks reuse refused; ShortGPT's and the angular distance's states
the streams a block reads, as transformers' output_hidden_states gives them; the hf and
hf_static tokens of a depth-pruned reload equal to transformers' generate; the refusals.
"""

from __future__ import annotations

import json

import pytest
import torch
from transformers import Gemma3nForCausalLM, Gemma3nTextConfig

from prunebench import PrunebenchError
from prunebench.benchmark.floors import kv_cache_bytes, read_params
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               config_from_dict, count_params,
                                               depth_kept_blocks, layer_shapes)
from prunebench.methods.depth import without_blocks
from prunebench.methods.depth_angular import last_token_states
from prunebench.methods.registry import method_function
from prunebench.methods.shortgpt import block_influence
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from test_deepseek import ids, logits, numel
from test_families import VOCAB, in_allocated_memory
from test_gemma4 import check_lora_adapts, check_the_kept_language_model
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import cache_bytes, check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

S, F = "sliding_attention", "full_attention"
SHARED = 2  # blocks 4 (sliding) and 5 (full) reuse blocks 2's and 3's keys and values


def small(**over) -> Gemma3nTextConfig:
    """Six blocks, sliding and full in turn (window 4), 2 query heads of 16 on 1 KV head, MLPs
    48 and 64 wide in turn, the first two cut at sparsities 0.9 and 0.8, the last two reusing
    keys and values; per-layer inputs of 8, 3 AltUp streams, a LAuReL rank of 4; tied (as
    published). No end-of-sequence token (generate's minimum length would part its tokens
    from greedy decoding without a cache)."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=[48, 64] * 3,
                  num_hidden_layers=6, num_attention_heads=2, num_key_value_heads=1,
                  head_dim=16, vocab_size_per_layer_input=VOCAB, hidden_size_per_layer_input=8,
                  num_kv_shared_layers=SHARED, laurel_rank=4, altup_num_inputs=3,
                  layer_types=[S, F] * 3, sliding_window=4,
                  activation_sparsity_pattern=[0.9, 0.8, 0.0, 0.0, 0.0, 0.0],
                  eos_token_id=None, pad_token_id=0)
    return Gemma3nTextConfig(**{**values, **over})


def random_model(config, seed: int = 0):
    """`config`'s model with every weight random (std 0.1; norms and AltUp's output scale
    around 1: transformers initialises that scale to zeros, which would silence the per-layer
    inputs), float32, in eval mode."""
    torch.manual_seed(seed)
    model = build_model(config, device="cpu")
    with torch.no_grad():
        for name, p in model.named_parameters():
            around_one = "norm" in name or name.endswith("correct_output_scale")
            p.copy_(torch.randn_like(p) * (0.2 if p.dim() == 1 else 0.1) + around_one)
    return model.eval()


def kept_model(model, keep: list[int], lists: bool = True, tables: bool = True):
    """transformers' Gemma3nForCausalLM of the blocks `keep` of `model`, built here by hand:
    the per-block lists' kept entries (`lists` False: their first ones, as a prune that did
    not rewrite them would leave), the kept shared blocks counted, each block's weights and
    the kept blocks' slices of the packed per-layer tables (`tables` False: the first
    slices)."""
    config, n = model.config, model.config.num_hidden_layers
    pick = keep if lists else list(range(len(keep)))
    kept = Gemma3nTextConfig(**{
        **config.to_dict(), "num_hidden_layers": len(keep),
        "layer_types": [config.layer_types[i] for i in keep],
        "intermediate_size": [config.intermediate_size[i] for i in keep],
        "activation_sparsity_pattern": [config.activation_sparsity_pattern[i] for i in pick],
        "num_kv_shared_layers": sum(i >= n - config.num_kv_shared_layers for i in keep)})
    theirs = Gemma3nForCausalLM(kept).eval()
    width = config.hidden_size_per_layer_input
    slices = keep if tables else list(range(len(keep)))
    columns = torch.tensor([i * width + j for i in slices for j in range(width)])
    state = model.state_dict()
    new = {}
    for key in theirs.state_dict():
        if key.startswith("model.layers."):
            j, rest = key[len("model.layers."):].split(".", 1)
            new[key] = state[f"model.layers.{keep[int(j)]}.{rest}"]
        elif key == "model.embed_tokens_per_layer.weight":
            new[key] = state[key][:, columns]
        elif key == "model.per_layer_model_projection.weight":
            new[key] = state[key][columns]
        else:
            new[key] = state[key]
    theirs.load_state_dict(new)
    return theirs


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("over", [{}, {"intermediate_size": 40, "num_kv_shared_layers": 0,
                                       "tie_word_embeddings": False, "altup_num_inputs": 4}])
def test_counts_equal_transformers_parameters(over):
    """Per-block MLP widths and shared blocks, or one width, no sharing, an LM head of its own
    and 4 streams: the closed form, and config_from_dict of the config.json values as
    transformers writes them and without layer_types (Gemma3nTextConfig's every fifth block
    full), equal transformers' meta model's parameters."""
    config = small(**over)
    with torch.device("meta"):
        n = numel(Gemma3nForCausalLM(config))
    assert count_params(config) == n
    raw = json.loads(config.to_json_string())
    assert count_params(config_from_dict(raw)) == n
    published = small(**{**over, "layer_types": None, "num_kv_shared_layers": 0})
    raw = {k: v for k, v in json.loads(published.to_json_string()).items() if k != "layer_types"}
    with torch.device("meta"):
        assert count_params(config_from_dict(raw)) == numel(Gemma3nForCausalLM(published))


def test_the_blocks_counted_by_hand():
    """A block of 32 wide: q_proj / o_proj 32 x 32 each, q_norm 16; k_proj, v_proj 32 x 16 and
    k_norm 16 where it computes its own keys; the MLP 3 x 32 x its width; four norms; the
    per-layer gate and projection 32 x 8 each and their norm; AltUp's 2 x 32 + 3 x 3 + 27 +
    32 x 3; LAuReL's 2 x 32 x 4 + 32."""
    config = small()
    own = 2 * 32 * 32 + 16 + 4 * 32 + 2 * 32 * 8 + 32 + (64 + 9 + 27 + 96) + (256 + 32)
    shapes = layer_shapes(config)
    assert [block_param_count(config, s) for s in shapes] == [
        own + 2 * 32 * 16 + 16 + 3 * 32 * width for width in (48, 64, 48, 64)] + [
        own + 3 * 32 * width for width in (48, 64)]


# --------------------------------------------------------------------------- depth pruning

@pytest.fixture(scope="module")
def model():
    return random_model(small())


@pytest.mark.parametrize("drop", [[0], [1, 4], [5]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(model, drop,
                                                                         tmp_path):
    """Removing the first (sparse) block, a full block and a shared one, or the last: the
    pruned model computes what transformers' model of the kept blocks computes, so does the
    dense model scoring without those blocks (without_blocks), and both reloads (prunebench's,
    transformers') compute it too."""
    x = ids()
    keep = [i for i in range(6) if i not in drop]
    expected = logits(kept_model(model, keep), x)
    with without_blocks(model, set(drop)):
        assert torch.allclose(logits(model, x), expected, rtol=1e-4, atol=1e-5)
    pruned = random_model(small())
    remove_blocks(pruned, drop)
    assert torch.allclose(logits(pruned, x), expected, rtol=1e-4, atol=1e-5)
    save_model(pruned, None, tmp_path)
    assert torch.equal(logits(load_model(tmp_path), x), logits(pruned, x))
    theirs = in_allocated_memory(Gemma3nForCausalLM.from_pretrained(tmp_path)).eval()
    assert torch.equal(logits(theirs, x), logits(pruned, x))


def test_each_per_block_list_and_table_matters(model):
    """Without block 0, a model of the kept blocks that kept the first entries of
    activation_sparsity_pattern, or the first slices of the per-layer tables, computes
    another model: a prune must rewrite both."""
    x = ids()
    right = logits(kept_model(model, [1, 2, 3, 4, 5]), x)
    for wrong in (kept_model(model, [1, 2, 3, 4, 5], lists=False),
                  kept_model(model, [1, 2, 3, 4, 5], tables=False)):
        assert not torch.allclose(logits(wrong, x), right, rtol=1e-2, atol=1e-3)


def test_the_blocks_whose_keys_are_reused_are_kept():
    """Blocks 2 and 3 hand their keys and values to blocks 4 and 5: no depth method may choose
    them, and removing one is refused before anything changes."""
    model = random_model(small())
    assert depth_kept_blocks(model.config) == [2, 3]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(PrunebenchError, match=r"block\(s\) \[3\] this Gemma 3n model.*5 reuses 3"):
        remove_blocks(model, [1, 3])
    assert model.config.num_hidden_layers == 6
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("method", ["shortgpt", "depth_angular", "depth_taylor", "sleb"])
def test_the_depth_methods_prune_gemma3n(method):
    """Each depth method (their hooks, stand-ins and gradients over the AltUp streams) removes
    one block of six (a size 0.9 of the dense model's asks for one), not block 2 or 3 (their
    keys are reused: no candidates, as tests/test_gemma4.py shows on blocks every criterion
    would choose first), and leaves a model whose count is its parameters and whose logits are
    finite."""
    model = random_model(small())
    report = method_function(method)(model, ids(4, 12, seed=3),
                                     int(0.9 * count_params(model.config)),
                                     protect_first=0, protect_last=0)
    assert report["num_removed"] == 1
    assert not set(report["removed_blocks"]) & {2, 3}
    assert numel(model) == count_params(model.config)
    assert torch.isfinite(logits(model, ids())).all()


def test_the_depth_criteria_read_the_streams_a_block_reads(model):
    """ShortGPT's block influence and the angular distance's states are taken over the AltUp
    streams concatenated (what a block reads), as from transformers' output_hidden_states
    ([streams, batch, tokens, hidden] a block, the last block's own output last): a
    comparison stream by stream would count each token three times."""
    x = ids(2, 9)
    with torch.no_grad():
        states = model.model(input_ids=x, output_hidden_states=True).hidden_states
    flat = [h.permute(1, 2, 0, 3).flatten(2).double() for h in states]
    expected = [1 - torch.nn.functional.cosine_similarity(a, b, dim=-1).mean().item()
                for a, b in zip(flat, flat[1:])]
    for last_block in ("output", "final_norm"):
        assert block_influence(model, x, last_block=last_block) == pytest.approx(
            expected, abs=1e-5)
    assert torch.allclose(last_token_states(model, x), torch.stack([h[:, -1] for h in flat]),
                          atol=1e-5)


def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(tmp_path):
    check_a_depth_pruned_reload_decodes_as_transformers(random_model(small()), [0, 4],
                                                        Gemma3nForCausalLM, tmp_path)


# --------------------------------------------------------------------------- refusals

def test_width_methods_surgery_and_the_compiled_backend_refuse_gemma3n():
    check_width_and_compiled_refused(small(), "AltUp")


@pytest.mark.parametrize("over,match", [
    ({"intermediate_size": [48] * 5}, "intermediate_size"),
    ({"activation_sparsity_pattern": [0.0] * 7}, "activation_sparsity_pattern"),
    ({"num_kv_shared_layers": 6}, "num_kv_shared_layers=6")])
def test_a_config_json_transformers_cannot_build_is_refused(over, match, tmp_path):
    raw = {**json.loads(small().to_json_string()), **over}
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match=match):
        checked_config_json(tmp_path)


# --------------------------------------------------------------------------- multimodal

def multimodal(text: Gemma3nTextConfig, monkeypatch):
    """A random Gemma3nForConditionalGeneration of `text` with a small audio tower and vision
    embedder; its vision tower (a timm MobileNet, timm not installed here) replaced by a
    linear layer as it is built: text alone never reaches it, and the import leaves it out
    whatever it holds."""
    from transformers import (Gemma3nAudioConfig, Gemma3nConfig,
                              Gemma3nForConditionalGeneration, Gemma3nVisionConfig)
    from transformers.models.gemma3n import modeling_gemma3n

    built = modeling_gemma3n.AutoModel.from_config

    def from_config(config, *args, **kwargs):
        if isinstance(config, Gemma3nVisionConfig):
            return torch.nn.Linear(4, config.hidden_size)
        return built(config, *args, **kwargs)

    monkeypatch.setattr(modeling_gemma3n.AutoModel, "from_config", from_config)
    vision = Gemma3nVisionConfig(hidden_size=16, vocab_size=4, vocab_offset=VOCAB - 8)
    audio = Gemma3nAudioConfig(hidden_size=16, vocab_size=4, vocab_offset=VOCAB - 4,
                               conf_num_hidden_layers=1, conf_num_attention_heads=2,
                               sscp_conv_channel_size=[8, 4], input_feat_size=16)
    config = Gemma3nConfig(text_config=text.to_dict(), vision_config=vision.to_dict(),
                           audio_config=audio.to_dict(), boi_token_id=VOCAB - 9,
                           eoi_token_id=VOCAB - 10, image_token_id=VOCAB - 8,
                           boa_token_id=VOCAB - 11, eoa_token_id=VOCAB - 12,
                           audio_token_id=VOCAB - 4)
    torch.manual_seed(0)
    model = Gemma3nForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            around_one = "norm" in name or name.endswith("correct_output_scale")
            p.copy_(torch.randn_like(p) * (0.2 if p.dim() == 1 else 0.1) + around_one)
    return model


def test_the_kept_language_model_computes_what_the_multimodal_model_computes(tmp_path,
                                                                             monkeypatch):
    """A Gemma 3n multimodal folder as transformers saves it (the language model under
    model.language_model, the vision and audio towers and their embedders beside it): the
    language model kept is a Gemma3nForCausalLM of the text config, its parameters the whole
    model's language model's, its logits on text (ids below the embedders' soft tokens) the
    whole model's, the final soft cap applied by both; it depth-prunes as any Gemma 3n model."""
    model = multimodal(small(final_logit_softcapping=0.5), monkeypatch)
    check_the_kept_language_model(model, tmp_path / "gemma3n", Gemma3nForCausalLM, VOCAB - 12)


# --------------------------------------------------------------------------- benchmark floors

@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_and_the_weights_a_step_reads(dtype):
    """kv_cache_bytes: each block's keys and values that computes its own, none for a block
    that reuses another's, equal to the tensors transformers' cache holds after a prefill,
    before and after a depth prune; read_params: every weight but the per-layer embedding
    table (a row a token; the tied LM head is the embedding, read whole), the AltUp
    projections that make and merge the streams included. (A window longer than the text:
    transformers' sliding cache keeps one token less than the window, a convention of every
    family's figures.)"""
    model = random_model(small(sliding_window=32)).to(dtype)
    for drop in ([], [0, 4]):
        remove_blocks(model, drop)
        config = model.config
        with torch.no_grad():
            out = model(input_ids=ids(2, 9), use_cache=True)
        cache = getattr(out, "past_key_values", None) or out.cache
        assert cache_bytes(cache) == kv_cache_bytes(config, 2, 9, dtype) > 0
        table = model.model.embed_tokens_per_layer.weight.numel()
        assert read_params(config) == numel(model) - table


# --------------------------------------------------------------------------- LoRA

def test_lora_adapts_every_projection_a_block_holds():
    """A depth-pruned model (block 1 out): LoRA puts an adapter on each projection its blocks
    hold (no k_proj / v_proj on the two that reuse keys), the logits unchanged by the adapters
    as initialised and one gradient step reaching each of them through the AltUp streams."""
    pruned = random_model(small())
    remove_blocks(pruned, [1])
    check_lora_adapts(pruned, 3)
