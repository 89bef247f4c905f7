"""Llama 4 (llama4_text, Llama4ForCausalLM; the language model of Llama-4-Scout-17B-16E and
-Maverick-17B-128E): counts against transformers' meta models, config.json alone and by hand
(experts in the blocks `moe_layers` lists, dense MLPs of intermediate_size_mlp elsewhere, one
shared expert per sparse block); depth pruning of Scout's layout (experts in every block) and
Maverick's (every other block), whose logits equal transformers' model built from the kept
blocks alone, with `moe_layers`, `no_rope_layers` and `layer_types` rewritten so that each kept
block reloads as it was, in prunebench and in transformers; the published multimodal layout
(`language_model.model.layers.N.feed_forward...` beside the vision tower and projector, Scout's
attn_temperature_tuning 4) taken apart to the language model, whose logits on text equal the
whole model's; chunked attention's KV cache in the bandwidth floor; the known shapes by hand.
tests/test_families.py and tests/test_moe.py run the shared tests on its tiny config."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import (AutoModelForCausalLM, Llama4Config, Llama4ForCausalLM,
                          Llama4ForConditionalGeneration, Llama4TextConfig)

from prunebench.benchmark.floors import kv_cache_bytes, weight_bytes
from prunebench.checkpoint import text_part
from prunebench.checkpoint.architectures import architecture_config, known_shape_of
from prunebench.checkpoint.param_count import (checkpoint_config, config_from_dict,
                                               count_params, sparse_mlp_blocks)
from prunebench.modeling import (count_params_meta, load_config, load_model, remove_blocks,
                                 save_model)
from test_families import SMALL, family_model, ids, logits

pytestmark = pytest.mark.usefixtures("one_thread")

# Scout's layout (experts in every block) and Maverick's (blocks 1 and 3 here), small: GQA,
# head_dim set apart, block 1 without rotary positions (its queries scaled past 4 positions),
# chunks of 6 tokens on the others, Scout's weightless q/k norms.
LAYOUTS = {"scout": dict(interleave_moe_layer_step=1, use_qk_norm=True),
           "maverick": dict(interleave_moe_layer_step=2, use_qk_norm=False)}
TEXT = dict(model_type="llama4_text", **{**SMALL, "intermediate_size": 32},
            intermediate_size_mlp=96, head_dim=32, num_local_experts=4, num_experts_per_tok=2,
            no_rope_layers=[1, 0, 1, 1], attention_chunk_size=6, floor_scale=4, attn_scale=0.5)


def text_config(layout: str, **changes) -> Llama4TextConfig:
    values = {k: v for k, v in {**TEXT, **LAYOUTS[layout], **changes}.items()
              if k != "model_type"}
    return Llama4TextConfig(**values)


def long_ids() -> torch.Tensor:
    """Texts past two chunks and past floor_scale: both change these logits."""
    return ids(n=2, length=16)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_counts_equal_the_meta_model_config_json_alone_and_the_hand(layout):
    config = text_config(layout)
    assert count_params(config) == count_params_meta(config)
    # config.json as the published ones and transformers 4.51's write it: no layer_types, and
    # (Maverick's) no moe_layers, both derived as Llama4TextConfig derives them.
    raw = {k: v for k, v in config.to_dict().items() if k not in ("moe_layers", "layer_types")}
    read = config_from_dict(raw)
    assert count_params(read) == count_params(config)
    assert read.layer_types == config.layer_types
    assert sparse_mlp_blocks(read) == [i in config.moe_layers for i in range(4)]
    d, v, hd = 64, SMALL["vocab_size"], 32
    attention = d * 4 * hd + 2 * d * 2 * hd + 4 * hd * d  # no biases, no q/k norm weights
    sparse = 4 * d + 4 * 3 * d * 32 + 3 * d * 32  # router, 4 experts, the shared expert
    dense = 3 * d * 96  # intermediate_size_mlp
    kinds = [True] * 4 if layout == "scout" else [False, True, False, True]
    blocks = sum(attention + (sparse if s else dense) + 2 * d for s in kinds)
    assert count_params(config) == blocks + 2 * v * d + d  # untied embedding and head


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("drop", [[0, 2], [1], [3]])
def test_depth_pruned_logits_equal_transformers_model_of_the_kept_blocks(layout, drop,
                                                                         tmp_path):
    config = text_config(layout)
    # test_families' tiny model (random norms) in this layout: moe_layers is what it builds by
    model = family_model("llama4_text", **LAYOUTS[layout], moe_layers=config.moe_layers)
    assert [layer.is_moe_layer for layer in model.model.layers] == sparse_mlp_blocks(config)
    keep = [i for i in range(4) if i not in drop]
    # transformers' own model of the kept blocks: their flags, kinds and chunking by position.
    reference = Llama4ForCausalLM(Llama4TextConfig(**{
        **{k: v for k, v in config.to_dict().items() if k not in ("layer_types", "model_type")},
        "num_hidden_layers": len(keep),
        "no_rope_layers": [config.no_rope_layers[i] for i in keep],
        "moe_layers": [new for new, old in enumerate(keep) if old in config.moe_layers]})).eval()
    state = {}
    for name, tensor in model.state_dict().items():
        if name.startswith("model.layers."):
            _, _, index, rest = name.split(".", 3)
            if int(index) not in keep:
                continue
            name = f"model.layers.{keep.index(int(index))}.{rest}"
        state[name] = tensor
    reference.load_state_dict(state, strict=True)
    pruned = remove_blocks(model, drop)
    assert pruned.config.no_rope_layers == [config.no_rope_layers[i] for i in keep]
    assert pruned.config.moe_layers == reference.config.moe_layers
    assert pruned.config.layer_types == [config.layer_types[i] for i in keep]
    assert pruned.config.layer_types == reference.config.layer_types
    x = long_ids()
    torch.testing.assert_close(logits(pruned, x), logits(reference, x), rtol=0, atol=1e-5)
    # Saved and reloaded, in prunebench and in transformers, each block is the kind it was.
    save_model(pruned, None, tmp_path / "pruned")
    raw = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert raw["moe_layers"] == reference.config.moe_layers
    assert raw["no_rope_layers"] == reference.config.no_rope_layers
    for reloaded in (load_model(tmp_path / "pruned"),
                     AutoModelForCausalLM.from_pretrained(tmp_path / "pruned",
                                                          dtype=torch.float32).eval()):
        assert [layer.is_moe_layer for layer in reloaded.model.layers] == [
            i in reference.config.moe_layers for i in range(len(keep))]
        assert [bool(layer.self_attn.use_rope) for layer in reloaded.model.layers] == [
            bool(r) for r in reference.config.no_rope_layers]
        torch.testing.assert_close(logits(reloaded, x), logits(reference, x), rtol=0,
                                   atol=1e-5)
    assert count_params(load_config(tmp_path / "pruned")) == sum(
        p.numel() for p in reference.parameters())


def test_every_pruned_away_sparse_block_leaves_a_dense_model_that_reloads(tmp_path):
    """Maverick's sparse blocks (1, 3) removed: an empty moe_layers, which transformers keeps
    (it derives the list only where none is given)."""
    model = family_model("llama4_text")
    pruned = remove_blocks(model, [1, 3])
    assert pruned.config.moe_layers == []
    save_model(pruned, None, tmp_path / "dense")
    reloaded = load_model(tmp_path / "dense")
    assert not any(layer.is_moe_layer for layer in reloaded.model.layers)
    torch.testing.assert_close(logits(reloaded, long_ids()), logits(pruned, long_ids()),
                               rtol=0, atol=0)


VISION = dict(model_type="llama4_vision_model", hidden_size=32, intermediate_size=64,
              num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14,
              vision_output_dim=32, projector_input_dim=32, projector_output_dim=32)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_published_layout_keeps_the_language_model_computing_what_the_whole_does(
        layout, tmp_path):
    """A Llama4ForConditionalGeneration as Meta publishes Scout and Maverick: its language
    model under `language_model.model.*` / `language_model.lm_head.*` (experts fused under
    `feed_forward.experts`), the vision tower and projector beside it, and (Scout's config.json)
    attn_temperature_tuning 4. The kept language model computes the whole model's logits on
    text, its config says true for the 4, and the left-out part is the tower and projector."""
    text = {**TEXT, **LAYOUTS[layout], "vocab_size": 300}
    whole_config = Llama4Config(text_config=text, vision_config=dict(VISION),
                                boi_token_index=297, eoi_token_index=298,
                                image_token_index=299)
    torch.manual_seed(0)
    whole = Llama4ForConditionalGeneration(whole_config).eval()
    with torch.no_grad():
        for name, p in whole.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(torch.randn_like(p) * 0.2 + 1.0)
    folder = tmp_path / "llama4"
    whole.save_pretrained(folder)
    from prunebench.tiny import train_tokenizer
    train_tokenizer("the cat sat on the mat. " * 50).save_pretrained(folder)
    raw = json.loads((folder / "config.json").read_text())
    raw["text_config"]["attn_temperature_tuning"] = 4  # as Llama-4-Scout's config.json says
    (folder / "config.json").write_text(json.dumps(raw))
    from safetensors import safe_open
    with safe_open(next(folder.glob("*.safetensors")), "pt") as handle:
        names = set(handle.keys())
    assert "language_model.model.layers.1.feed_forward.experts.gate_up_proj" in names
    assert any(n.startswith("vision_model.") for n in names)
    assert "multi_modal_projector.linear_1.weight" in names

    # planned from config.json alone: the language model's count
    assert count_params(checkpoint_config(folder)) == sum(
        p.numel() for p in whole.language_model.parameters())
    assert text_part.take_text_part(folder) is True
    kept = load_model(folder)
    assert type(kept).__name__ == "Llama4ForCausalLM"
    assert kept.config.attn_temperature_tuning is True
    assert kept.config.tie_word_embeddings is False
    x = torch.randint(3, 290, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = whole(input_ids=x).logits
    torch.testing.assert_close(logits(kept, x), expected, rtol=0, atol=1e-5)
    record = json.loads((folder / text_part.RECORD).read_text())
    assert record["taken_from"] == "Llama4ForConditionalGeneration"
    assert record["left_out"]["parameters"] == sum(
        p.numel() for part in (whole.vision_model, whole.multi_modal_projector)
        for p in part.parameters())


def test_a_text_config_json_with_scouts_temperature_flag_loads(tmp_path):
    """A text-only Llama 4 checkpoint saved by transformers 4.51 from Scout's config keeps
    attn_temperature_tuning 4, which transformers 5's config class refuses: read as true."""
    model = family_model("llama4_text")
    save_model(model, None, tmp_path / "m")
    raw = json.loads((tmp_path / "m" / "config.json").read_text())
    raw["attn_temperature_tuning"] = 4
    (tmp_path / "m" / "config.json").write_text(json.dumps(raw))
    with pytest.raises(Exception, match="attn_temperature_tuning"):
        Llama4TextConfig(**{k: v for k, v in raw.items() if k != "model_type"})
    assert load_config(tmp_path / "m").attn_temperature_tuning is True


def test_chunked_blocks_cache_a_chunk_in_the_bandwidth_floor():
    """transformers keeps a chunked block's cache as a window of attention_chunk_size: a step
    past it reads that many positions there, the whole context in the NoPE block."""
    config = text_config("maverick")
    per_position = 2 * 2 * 32 * 4  # keys and values, 2 KV heads of 32, float32
    assert kv_cache_bytes(config, 1, 20, torch.float32) == per_position * (20 + 3 * 6)
    assert kv_cache_bytes(config, 1, 5, torch.float32) == per_position * 4 * 5


def test_the_known_shapes_by_hand():
    d, v, hd, experts_scout, experts_maverick = 5120, 202048, 128, 16, 128
    attention = d * 40 * hd + 2 * d * 8 * hd + 40 * hd * d
    expert = 3 * d * 8192

    def sparse(experts):
        return experts * d + experts * expert + expert  # router, experts, shared expert

    dense = 3 * d * 16384
    scout = 48 * (attention + sparse(experts_scout) + 2 * d) + 2 * v * d + d
    maverick = (24 * (attention + sparse(experts_maverick) + 2 * d)
                + 24 * (attention + dense + 2 * d) + 2 * v * d + d)
    assert (scout, maverick) == (107_769_861_120, 400_711_848_960)
    # a batch-1 step: one expert of each sparse block, the rest but the embedding table
    scout_read = scout - 48 * (experts_scout - 1) * expert - v * d
    maverick_read = maverick - 24 * (experts_maverick - 1) * expert - v * d
    assert (scout_read, maverick_read) == (16_138_408_960, 16_150_205_440)
    for name, total, read in (("llama-4-scout-17b-16e", scout, scout_read),
                              ("llama-4-maverick-17b-128e", maverick, maverick_read)):
        config = architecture_config(name)
        assert count_params(config) == count_params_meta(config) == total
        assert weight_bytes(config, torch.bfloat16) == 2 * read
    assert architecture_config("llama-4-maverick-17b-128e").moe_layers == list(range(1, 48, 2))
    assert architecture_config("llama-4-scout-17b-16e").no_rope_layers == [1, 1, 1, 0] * 12
    for hub_id, shape in (("meta-llama/Llama-4-Scout-17B-16E", "llama-4-scout-17b-16e"),
                          ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama-4-scout-17b-16e"),
                          ("meta-llama/Llama-4-Maverick-17B-128E-Instruct",
                           "llama-4-maverick-17b-128e"),
                          ("meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8", None)):
        assert known_shape_of(hub_id) == shape


def test_hf_static_refuses_chunked_attention_where_transformers_cannot_mask_it(monkeypatch):
    """transformers 5.17's static-cache mask builder passes create_chunked_causal_mask a
    `block_sequence_ids` it does not take (generate stops on a TypeError): hf_static refuses a
    model with chunked blocks there, read from the signatures; the hf backend is named."""
    from transformers import masking_utils

    from prunebench import PrunebenchError
    from prunebench import benchmark as bench
    from prunebench.benchmark.runners import chunked_static_cache_problem

    model = family_model("llama4_text")

    def without_it(config, inputs_embeds, attention_mask, past_key_values,
                   position_ids=None):
        raise AssertionError("not called")

    def with_it(config, inputs_embeds, attention_mask, past_key_values, position_ids=None,
                block_sequence_ids=None):
        raise AssertionError("not called")

    monkeypatch.setattr(masking_utils, "create_chunked_causal_mask", without_it)
    with pytest.raises(PrunebenchError, match="chunked attention .*hf backend, or upgrade"):
        bench.HFStaticRunner(model, 4)
    full = family_model("llama4_text")
    full.config.layer_types = ["full_attention"] * 4  # no chunked block: nothing to refuse
    assert chunked_static_cache_problem(full) is None
    monkeypatch.setattr(masking_utils, "create_chunked_causal_mask", with_it)
    assert chunked_static_cache_problem(model) is None
