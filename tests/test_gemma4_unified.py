"""Gemma 4 12B's language model (gemma4_unified_text, Gemma4UnifiedForCausalLM) by depth pruning
and the hf / hf_static backends, as Gemma 4's (tests/test_gemma4.py); its multimodal
gemma4_unified checkpoint taken apart; Gemma 4's assistants (gemma4_assistant,
gemma4_unified_assistant) refused as drafters.

Gemma4UnifiedTextDecoderLayer is Gemma 4's block (its attention and MLP classes: per-block
head_dim and KV heads, values that are the keys, shared keys and values, the double-wide MLP,
layer_scalar) without per-layer inputs or experts, whatever its config.json says of them (the
published one carries Gemma 4's keys: hidden_size_per_layer_input 0, enable_moe_block false).
Exact counts against transformers' meta models (a config.json naming per-layer inputs and
experts too: Gemma 4's count of it would differ), the known shape gemma-4-12b; depth pruning
equal to transformers' forward of the dense model with the blocks passed over and reloaded by
prunebench and by transformers; the blocks a prune must keep refused; the hf / hf_static tokens
of a depth-pruned reload equal to generate; kv_cache_bytes equal to transformers' cache; the
width / surgery / compiled refusals; the language model of a Gemma4UnifiedForConditionalGeneration
(its image and audio embedders left out) computing on text what the whole model computes; and
the assistants refused when their config.json is read, their forward shown to need a target."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import Gemma4TextConfig, Gemma4UnifiedForCausalLM, Gemma4UnifiedTextConfig

from prunebench import PrunebenchError
from prunebench.benchmark.floors import kv_cache_bytes, read_params
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, depth_kept_blocks, family, is_moe,
                                               kv_sources)
from prunebench.modeling import remove_blocks
from test_deepseek import ids, logits, numel
from test_families import VOCAB
from test_gemma4 import (check_depth_pruned_as_passed_over, check_lora_adapts,
                         check_the_kept_language_model, random_model)
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import cache_bytes, check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

S, F = "sliding_attention", "full_attention"
KINDS = [S, S, F, S, S, F]


def small(**over) -> Gemma4UnifiedTextConfig:
    """The 12B's layout, small: sliding blocks of 4 query heads of 8 on 2 KV heads, global ones
    (blocks 2 and 5) of heads of 16 on 1 KV head whose values are its keys; tied. No
    end-of-sequence token (generate's minimum length would part its tokens from greedy
    decoding without a cache)."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=6,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=8, global_head_dim=16,
                  num_global_key_value_heads=1, attention_k_eq_v=True, layer_types=KINDS,
                  sliding_window=16, max_position_embeddings=128, bos_token_id=1,
                  eos_token_id=None, pad_token_id=0)
    return Gemma4UnifiedTextConfig(**{**values, **over})


def shared(**over) -> Gemma4UnifiedTextConfig:
    """Gemma 4's sharing, which Gemma4UnifiedTextConfig keeps: the last two blocks reuse the
    keys and values of blocks 3 and 2, their MLP twice as wide; values of their own."""
    return small(**{"num_kv_shared_layers": 2, "use_double_wide_mlp": True,
                    "attention_k_eq_v": False, "num_global_key_value_heads": None, **over})


LAYOUTS = {"dense": small, "shared": shared}


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("over", [{}, {"attention_bias": True, "tie_word_embeddings": False}])
def test_counts_equal_transformers_parameters(layout, over):
    """Each layout, with biases and an LM head of its own too: the closed form, the meta model
    and config_from_dict of the config.json values transformers writes agree."""
    config = LAYOUTS[layout](**over)
    with torch.device("meta"):
        n = numel(Gemma4UnifiedForCausalLM(config))
    assert count_params(config) == n
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == n
    assert not is_moe(config)


def test_per_layer_inputs_and_experts_a_config_json_names_are_not_counted():
    """A config.json as published (global_head_dim, num_global_key_value_heads, no layer_types
    or per_layer_config) that also names Gemma 4's per-layer inputs and experts: transformers
    builds neither (the published one says hidden_size_per_layer_input 0), and prunebench
    counts what it builds; read as Gemma 4's the same values count both (the difference
    matters)."""
    raw = {k: v for k, v in small(layer_types=[S] * 5 + [F]).to_dict().items()
           if k not in ("per_layer_config", "layer_types")}
    raw.update(global_head_dim=16, num_global_key_value_heads=1, hidden_size_per_layer_input=8,
               vocab_size_per_layer_input=VOCAB, enable_moe_block=True, num_experts=4,
               top_k_experts=2, moe_intermediate_size=16)
    built = Gemma4UnifiedTextConfig(**{k: v for k, v in raw.items() if k != "model_type"})
    assert built.layer_types == [S] * 5 + [F]
    with torch.device("meta"):
        n = numel(Gemma4UnifiedForCausalLM(built))
    ours = config_from_dict(raw)
    assert count_params(ours) == count_params(built) == n and not is_moe(ours)
    assert read_params(ours) == n  # (tied: the LM head is the table)
    as_gemma4 = config_from_dict({**raw, "model_type": "gemma4_text"})
    assert is_moe(as_gemma4) and count_params(as_gemma4) > n


def test_the_known_shape_counts_what_transformers_builds_and_by_hand():
    """gemma-4-12b (google/gemma-4-12B(-it)'s language model): 48 blocks of hidden 3840, 40
    sliding ones of 16 heads on 8 KV heads of 256, 8 global ones of 16 heads of 512 on 1 KV
    head whose values are the keys, an MLP of 15360, a tied vocabulary of 262144: counted
    against transformers' meta model, its values alone and by hand; every weight read a step.
    Its assistant's hub id names no shape."""
    from prunebench.checkpoint.architectures import known_shape_of
    from test_deepseek_v2 import check_known_shape

    d = 3840
    sliding = 2 * d * 16 * 256 + 2 * d * 8 * 256 + 2 * 256  # q, o, k, v, q/k norms
    full = 2 * d * 16 * 512 + d * 512 + 2 * 512  # no v_proj: the keys
    total = 262144 * d + d + 8 * (5 * sliding + full) + 48 * (3 * d * 15360 + 4 * d)
    assert total == 11_907_350_272
    config = check_known_shape("gemma-4-12b", total, total, "Gemma4UnifiedTextConfig")
    assert config.layer_types == ([S] * 5 + [F]) * 8
    assert known_shape_of("google/gemma-4-12B-it") == known_shape_of("google/gemma-4-12B") == (
        "gemma-4-12b")
    assert known_shape_of("google/gemma-4-12B-it-assistant") is None


# --------------------------------------------------------------------------- depth pruning

@pytest.mark.parametrize("layout,drop", [("dense", [2, 3]), ("shared", [0, 4])])
def test_depth_pruning_computes_as_the_dense_model_without_the_blocks(layout, drop, tmp_path):
    """Removing blocks (a global one, a reusing one): the model computes what the dense model
    computes with those blocks passed over, its layer_types and per_layer_config lose their
    entries, the kept reusing block still reuses, and it reloads so in prunebench and in
    transformers (AutoModelForCausalLM)."""
    check_depth_pruned_as_passed_over(random_model(LAYOUTS[layout]()), drop,
                                      layout == "shared", Gemma4UnifiedForCausalLM, tmp_path)


def test_removing_a_block_the_model_needs_is_refused_before_anything_changes():
    """The last block and the blocks whose keys and values kept blocks reuse (3 for 4, 2 for
    5): refused, naming them, the model left whole."""
    model = random_model(shared())
    assert depth_kept_blocks(model.config) == [2, 3, 5]
    assert kv_sources(model.config) == [None, None, None, None, 3, 2]
    x = ids()
    before = logits(model, x)
    with pytest.raises(PrunebenchError, match=r"would remove block\(s\) \[3\] this Gemma 4 "
                                              r"model needs.*4 reuses 3; 5 reuses 2"):
        remove_blocks(model, [3])
    assert model.config.num_hidden_layers == 6 and torch.equal(logits(model, x), before)


def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(tmp_path):
    """A depth-pruned model of shared keys reloaded: the hf and hf_static backends' tokens
    equal transformers' generate and greedy decoding without a cache."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(shared()), [0, 4], Gemma4UnifiedForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(layout):
    """kv_cache_bytes (each block's own head_dim and KV heads, none for a reusing block) equal
    to what transformers' cache holds after a prefill, before and after a depth prune."""
    model = random_model(LAYOUTS[layout]())
    for drop in ([], [0]):
        remove_blocks(model, drop)
        with torch.no_grad():
            out = model(input_ids=ids(2, 9), use_cache=True)
        cache = getattr(out, "past_key_values", None) or out.cache
        assert cache_bytes(cache) == kv_cache_bytes(model.config, 2, 9, torch.float32) > 0


def test_lora_adapts_every_projection_a_block_holds():
    """LoRA on a depth-pruned model of shared keys: an adapter on each projection the blocks
    hold (no k_proj / v_proj in the reusing blocks 3 and 4), the logits unchanged as
    initialised, one gradient step reaching each."""
    model = random_model(shared())
    remove_blocks(model, [0])
    check_lora_adapts(model, 3)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_width_methods_surgery_and_the_compiled_backend_refuse_it(layout):
    """Width methods' plans, width surgery and the compiled decoder refuse it, naming the depth
    methods and the hf backends, as Gemma 4's."""
    check_width_and_compiled_refused(
        LAYOUTS[layout](), r"this 'gemma4_unified_text' model \(Gemma4UnifiedForCausalLM\): "
                           r"its blocks differ in head_dim")


# --------------------------------------------------------------------------- multimodal

def test_the_kept_language_model_computes_what_the_multimodal_model_computes(tmp_path):
    """A Gemma4UnifiedForConditionalGeneration folder as transformers saves it (the language
    model under model.language_model; the image patch layers under model.vision_embedder, the
    image and audio projections under model.embed_vision / model.embed_audio): the language
    model kept is a Gemma4UnifiedForCausalLM of its parameters, computing the whole model's
    logits on text (its final soft cap, use_bidirectional_attention "vision": causal on text),
    and depth-prunes."""
    from transformers import (Gemma4UnifiedAudioConfig, Gemma4UnifiedConfig,
                              Gemma4UnifiedForConditionalGeneration, Gemma4UnifiedVisionConfig)

    text = shared(final_logit_softcapping=0.5, use_bidirectional_attention="vision")
    vision = Gemma4UnifiedVisionConfig(patch_size=2, pooling_kernel_size=2, mm_embed_dim=16,
                                       mm_posemb_size=8, output_proj_dims=16)
    config = Gemma4UnifiedConfig(
        text_config=text.to_dict(), vision_config=vision.to_dict(),
        audio_config=Gemma4UnifiedAudioConfig(audio_embed_dim=8).to_dict(),
        image_token_id=VOCAB - 1, video_token_id=VOCAB - 2, audio_token_id=VOCAB - 3,
        boi_token_id=VOCAB - 4, eoi_token_id=VOCAB - 5, boa_token_id=VOCAB - 6,
        eoa_token_index=VOCAB - 7)
    torch.manual_seed(0)
    model = Gemma4UnifiedForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.2 + ("norm" in name))
    check_the_kept_language_model(model, tmp_path / "unified", Gemma4UnifiedForCausalLM,
                                  VOCAB - 7)


# --------------------------------------------------------------------------- assistants

def assistant(kind: str):
    """A small Gemma 4 assistant (`kind`: gemma4 or gemma4_unified) of the target width 16,
    as its config class completes it (every block reusing the target's keys and values)."""
    import transformers

    text_class = Gemma4TextConfig if kind == "gemma4" else Gemma4UnifiedTextConfig
    ple = {"hidden_size_per_layer_input": 0, "vocab_size_per_layer_input": 0} if (
        kind == "gemma4") else {}
    name = "Gemma4Assistant" if kind == "gemma4" else "Gemma4UnifiedAssistant"
    text = text_class(vocab_size=VOCAB, hidden_size=16, intermediate_size=32,
                      num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                      head_dim=8, global_head_dim=8, layer_types=[S, F], **ple)
    config = getattr(transformers, f"{name}Config")(text_config=text.to_dict(),
                                                    backbone_hidden_size=16)
    return getattr(transformers, f"{name}ForCausalLM")(config).eval()


@pytest.mark.parametrize("kind", ["gemma4", "gemma4_unified"])
def test_an_assistant_is_refused_as_a_drafter_when_its_config_json_is_read(kind, tmp_path):
    """A Gemma 4 assistant's folder is refused when its config.json is read, saying it is a
    drafter of a target model and to prune the target; its forward indeed computes nothing
    from token ids alone (it needs the target's hidden states and keys and values), and its
    blocks hold no key or value projections of their own."""
    model = assistant(kind)
    model.save_pretrained(tmp_path / "assistant")
    model_type = f"{kind}_assistant"
    why = (rf"model_type '{model_type}' is not supported: it is Gemma 4.*assistant .*a drafter "
           r"for assisted decoding.*Prune and benchmark its target model instead")
    with pytest.raises(PrunebenchError, match=why):
        checked_config_json(tmp_path / "assistant")
    with pytest.raises(PrunebenchError, match=why):
        family(model.config)
    with pytest.raises(ValueError, match="shared_kv_states cannot be None"):
        model(input_ids=ids())
    assert not any(name.endswith(("k_proj.weight", "v_proj.weight"))
                   for name, _ in model.named_parameters())
