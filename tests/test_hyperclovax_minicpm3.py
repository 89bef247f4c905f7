"""HyperCLOVA X (hyperclovax, HyperCLOVAXForCausalLM; HyperCLOVAX-SEED) and MiniCPM3 (minicpm3,
MiniCPM3ForCausalLM; MiniCPM3-4B): the pieces of their own.

HyperCLOVA X is Granite's block (embedding, residual and attention multipliers) with its
logits_scaling multiplying the logits (Granite's divides) and, where use_post_norm is set, an
RMSNorm on each sublayer's output (Peri-LN: post_norm1, post_norm2), Gemma-2's sandwich norms
by a config key. A full family: checked here are counts against transformers' meta models (post
norms on and off, tied, biased, head_dim set apart); a checkpoint transformers saved, imported
and loaded with transformers' logits; head and channel removal equal to transformers' model of
the kept heads and channels; depth pruning equal to transformers' model of the kept blocks; the
compiled decoder's logits and tokens on width-pruned models (post norms on and off, fused and
not), each of its pieces shown to matter.

MiniCPM3 is DeepSeek-V2's multi-head latent attention in a dense model, its embeddings scaled
by scale_emb, its last hidden states divided by hidden_size / dim_model_base and each
sublayer's output scaled by scale_depth / sqrt(num_hidden_layers). Depth only: checked here are
counts against transformers' meta models and by hand; a checkpoint transformers saved, imported
and loaded with transformers' logits; depth pruning rewriting scale_depth so that the kept
blocks compute what they computed in the dense model (and transformers' model of the kept
blocks, reloaded by prunebench and by transformers, the hf backends decoding as generate); the
refusals of the width methods, width surgery, the compiled decoder (at the start too) and LoRA
targets it does not hold.

tests/test_families.py runs the shared per-family tests on both tiny configs."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from transformers import (HyperCLOVAXConfig, HyperCLOVAXForCausalLM, MiniCPM3Config,
                          MiniCPM3ForCausalLM)

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               count_params, layer_shapes, refuse_moe)
from prunebench.methods import surgery
from prunebench.methods.depth import without_blocks
from prunebench.methods.registry import method_function
from prunebench.modeling import remove_blocks
from prunebench.plan.lora_settings import expert_target_problem
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does
from test_dbrx import check_a_transformers_checkpoint_imports
from test_families import FAMILIES, _write_config, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_gpt_neox import width_pruned
from test_helium_vaultgemma_granitemoeshared import check_counts
from test_opt import check_depth_prune_is_transformers_model
from test_stablelm import decoder_follows_the_change

pytestmark = pytest.mark.usefixtures("one_thread")

HEADS, KV, HD, WIDTH = 4, 2, 16, 128  # the family tests' tiny HyperCLOVA X


def hyperclovax(**changes) -> HyperCLOVAXConfig:
    return HyperCLOVAXConfig(**{**FAMILIES["hyperclovax"]().to_dict(), **changes})


def minicpm3(**changes) -> MiniCPM3Config:
    return MiniCPM3Config(**{**FAMILIES["minicpm3"]().to_dict(), **changes})


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [
    {}, {"use_post_norm": False}, {"tie_word_embeddings": True, "attention_bias": True},
    {"head_dim": 12, "mlp_bias": True, "use_post_norm": True}])
def test_hyperclovax_counts_equal_transformers_parameters(values):
    check_counts("hyperclovax", values)


def test_hyperclovax_block_counted_by_hand():
    """One block of the tiny model: q/k/v/o of 4 heads and 2 KV heads of 16, biased; a
    biased SwiGLU MLP of 128; four RMSNorms of 64 (two before, two after the sublayers), two
    without use_post_norm."""
    d, q, kv, m = 64, HEADS * HD, KV * HD, WIDTH
    attention = d * (q + 2 * kv) + (q + 2 * kv) + q * d + d
    mlp = 3 * d * m + 2 * m + d
    for post, norms in ((True, 4), (False, 2)):
        config = hyperclovax(use_post_norm=post)
        assert [block_param_count(config, s) for s in layer_shapes(config)] == [
            attention + mlp + norms * d] * 4


@pytest.mark.parametrize("values", [
    {}, {"q_lora_rank": None}, {"attention_bias": False, "tie_word_embeddings": True},
    {"v_head_dim": None, "mlp_bias": True}])
def test_minicpm3_counts_equal_transformers_parameters(values):
    check_counts("minicpm3", {"num_key_value_heads": 6, "num_attention_heads": 6,
                              "q_lora_rank": 20, "kv_lora_rank": 12, "qk_nope_head_dim": 8,
                              "qk_rope_head_dim": 4, "v_head_dim": 6, **values})


def test_minicpm3_block_counted_by_hand():
    """One block of the tiny model: q_a_proj (64 -> 32, biased), q_a_layernorm, q_b_proj (->
    4 heads of 8 + 4); kv_a_proj_with_mqa (64 -> 16 + 4, biased), kv_a_layernorm, kv_b_proj
    (-> 4 x (8 + 12)); o_proj (4 x 12 -> 64, biased); a SwiGLU MLP of 128; two norms."""
    d, heads = 64, 4
    q = d * 32 + 32 + 32 + 32 * heads * 12
    kv = d * 20 + 20 + 16 + 16 * heads * 20
    o = heads * 12 * d + d
    by_hand = q + kv + o + 3 * d * WIDTH + 2 * d
    config = minicpm3()
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [by_hand] * 4
    assert count_params(config) == 2 * 128 * d + d + 4 * by_hand == numel(
        family_model("minicpm3"))


# --------------------------------------------------------------------------- import and load

@pytest.mark.parametrize("name, cls", [("hyperclovax", HyperCLOVAXForCausalLM),
                                       ("minicpm3", MiniCPM3ForCausalLM)])
def test_a_checkpoint_transformers_saved_imports_and_computes_transformers_logits(
        name, cls, tmp_path, tokenizer):  # noqa: F811
    """A tiny model made by transformers' own class and saved by it, imported and loaded by
    prunebench: the same tensors and float32 logits (MiniCPM3's embedding scale, a buffer the
    checkpoint does not hold, made again), and transformers' own load of the imported folder
    the same logits."""
    check_a_transformers_checkpoint_imports(cls, FAMILIES[name](), tokenizer, tmp_path)


# --------------------------------------------------------------------------- HyperCLOVA X: width

def kept_heads_state(model, group: int, channels: list[int]) -> dict[str, torch.Tensor]:
    """The state dict of `model` with KV group `group` (its KV head and query heads) and the
    MLP channels not in `channels` taken out of every block by hand: q/k/v rows and biases of
    the kept heads, o_proj's columns of the kept query heads, gate / up rows and down columns
    of the kept channels."""
    per = HEADS // KV
    q_heads = [h for h in range(HEADS) if h // per != group]
    kv_heads = [h for h in range(KV) if h != group]
    q_rows = [h * HD + i for h in q_heads for i in range(HD)]
    kv_rows = [h * HD + i for h in kv_heads for i in range(HD)]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for b in range(model.config.num_hidden_layers):
        p = f"model.layers.{b}."
        for part, rows in (("q_proj", q_rows), ("k_proj", kv_rows), ("v_proj", kv_rows)):
            for key in (f"{p}self_attn.{part}.weight", f"{p}self_attn.{part}.bias"):
                state[key] = state[key][rows]
        state[f"{p}self_attn.o_proj.weight"] = state[f"{p}self_attn.o_proj.weight"][:, q_rows]
        for part in ("gate_proj", "up_proj"):
            for key in (f"{p}mlp.{part}.weight", f"{p}mlp.{part}.bias"):
                state[key] = state[key][channels]
        state[f"{p}mlp.down_proj.weight"] = state[f"{p}mlp.down_proj.weight"][:, channels]
    return state


@pytest.mark.parametrize("post", [True, False])
def test_head_and_channel_removal_is_transformers_model_of_the_kept_heads(post):
    """KV group 1 and a third of the MLP channels out of every block: transformers'
    HyperCLOVAXForCausalLM of 2 heads, 1 KV head and the kept width, given the kept rows and
    columns, computes the same logits (the attention's scale is attention_multiplier, which
    the head count does not change)."""
    model = family_model("hyperclovax", use_post_norm=post)
    channels = [c for c in range(WIDTH) if c % 3]
    state = kept_heads_state(model, 1, channels)
    for b in range(4):
        surgery.remove_kv_groups(model, b, [1])
        surgery.remove_channels(model, b, [c for c in range(WIDTH) if c not in channels])
    theirs = HyperCLOVAXForCausalLM(hyperclovax(
        use_post_norm=post, num_attention_heads=2, num_key_value_heads=1, head_dim=HD,
        intermediate_size=len(channels))).eval()
    theirs.load_state_dict(state)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)
    assert count_params(model.config) == numel(model) == numel(theirs)


@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_hyperclovax_depth_pruning_is_transformers_model_of_the_kept_blocks(drop, tmp_path):
    check_depth_prune_is_transformers_model(
        family_model("hyperclovax"), drop, "model.layers.", HyperCLOVAXForCausalLM,
        lambda n: hyperclovax(num_hidden_layers=n), tmp_path)


@pytest.mark.parametrize("post", [True, False])
@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(post, fuse):
    decoder = decoder_gives_transformers_logits(
        width_pruned(family_model("hyperclovax", use_post_norm=post)), fuse)
    assert all((block.ln_attn_out is not None) == post and (block.ln_mlp_out is not None)
               == post for block in decoder.blocks)


@pytest.mark.parametrize("post", [True, False])
def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does(post):
    decodes_as_generate_does(width_pruned(family_model("hyperclovax", use_post_norm=post)))


def _other_post_norms(model):
    """Each block's post_norm1 and post_norm2 given the weights of the norms before the
    sublayers: were the decoder to leave out or swap the output norms, it would miss this."""
    with torch.no_grad():
        for layer in model.model.layers:
            layer.post_norm1.weight.copy_(layer.post_attention_layernorm.weight.flip(0))
            layer.post_norm2.weight.copy_(layer.input_layernorm.weight.flip(0))


def _other_logits_scaling(model):
    """logits_scaling 2.5 where it was 0.4: a multiplier (Granite's divisor would move the
    logits the other way)."""
    model.config.logits_scaling = 2.5


def _other_residual_multiplier(model):
    """residual_multiplier 1 where it was 0.6 (each block holds the config's value)."""
    model.config.residual_multiplier = 1.0
    for layer in model.model.layers:
        layer.residual_multiplier = 1.0


@pytest.mark.parametrize("change", [_other_post_norms, _other_logits_scaling,
                                    _other_residual_multiplier])
def test_the_decoder_applies_each_of_hyperclovaxs_pieces(change):
    """Each piece the decoder reproduces changes the logits, and the decoder built from the
    changed model follows it: the post norms' own weights, the logits multiplier, the residual
    multiplier."""
    decoder_follows_the_change(family_model("hyperclovax"), change)


def test_the_logits_are_multiplied_by_logits_scaling():
    """The compiled decoder's logits at logits_scaling 0.4 are its logits at 1 times 0.4 (as
    HyperCLOVAXForCausalLM computes them), not divided by it."""
    model = family_model("hyperclovax")
    prompt = ids(2, 9, seed=6)
    scaled = StaticDecoder(model, 2, 12, mode="eager").prefill_logits(prompt)
    model.config.logits_scaling = 1.0
    plain = StaticDecoder(model, 2, 12, mode="eager").prefill_logits(prompt)
    torch.testing.assert_close(scaled, plain * 0.4, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- MiniCPM3: depth

@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_minicpm3_depth_pruning_keeps_each_blocks_residual_scale(drop, tmp_path):
    """Blocks removed: the model left computes what the dense model computes with those
    blocks passed over (each kept block's sublayers scaled by 1.4 / sqrt(4), as scored), for
    scale_depth shrinks with the square root of the depth; it is transformers' model of the
    kept blocks at that scale_depth, and reloads as it by prunebench and by
    MiniCPM3ForCausalLM, the hf backends decoding as generate. transformers' model of the kept
    blocks at the dense scale_depth computes another model."""
    model = family_model("minicpm3")
    x = ids()
    with without_blocks(model, set(drop)):
        passed_over = logits(model, x)
    kept = 4 - len(drop)
    scale = 1.4 * math.sqrt(kept / 4)
    check_depth_prune_is_transformers_model(
        model, drop, "model.layers.", MiniCPM3ForCausalLM,
        lambda n: minicpm3(num_hidden_layers=n, scale_depth=scale), tmp_path)
    assert model.config.num_hidden_layers == kept
    assert math.isclose(model.config.scale_depth / math.sqrt(kept), 1.4 / 2, rel_tol=1e-15)
    torch.testing.assert_close(logits(model, x), passed_over, rtol=0, atol=1e-5)
    assert json.loads((tmp_path / "config.json").read_text())["scale_depth"] == scale
    unscaled = MiniCPM3ForCausalLM(minicpm3(num_hidden_layers=kept)).eval()
    unscaled.load_state_dict(model.state_dict())
    assert (logits(unscaled, x) - passed_over).abs().max() > 1e-3


def test_a_chain_of_depth_prunes_keeps_the_dense_models_residual_scale():
    """Two prunes one after the other (4 -> 3 -> 2 blocks) scale the blocks left as the dense
    model did."""
    model = family_model("minicpm3")
    remove_blocks(model, [1])
    remove_blocks(model, [0])
    assert math.isclose(model.config.scale_depth, 1.4 * math.sqrt(2 / 4), rel_tol=1e-15)
    assert all(math.isclose(layer.residual_scale, 0.7, rel_tol=1e-15)
               for layer in model.model.layers)


def test_a_null_scale_depth_scales_by_one_at_any_depth():
    """MiniCPM3Config reads scale_depth None as sqrt(num_hidden_layers): a scale of 1, which a
    depth prune keeps (the class wrote the number, rewritten as any other)."""
    model = family_model("minicpm3", seed=1)
    model.config.scale_depth = None
    assert remove_blocks(model, [2]).config.scale_depth is None
    model = MiniCPM3ForCausalLM(minicpm3(scale_depth=None))
    assert model.config.scale_depth == 2.0
    remove_blocks(model, [0, 1, 2])
    assert model.model.layers[0].residual_scale == 1.0 == model.config.scale_depth


# --------------------------------------------------------------------------- MiniCPM3: refusals

LATENT = "its multi-head latent attention"


@pytest.mark.parametrize("name", ["minicpm3", "youtu"])  # (Youtu: dense latent attention too)
@pytest.mark.parametrize("method", ["flap", "llm_pruner", "wanda_sp", "blockpruner"])
def test_the_width_methods_refuse_minicpm3_and_youtu_before_scoring(method, name):
    model = family_model(name)
    with pytest.raises(FamilyUnsupported, match=f"{method}.*{LATENT}.*depth method.*hf_static"):
        method_function(method)(model, ids(8, 24, seed=3), int(0.8 * numel(model)))
    assert numel(model) == count_params(model.config)  # nothing cut


def check_surgery_and_the_compiled_decoder_refuse(model, words: str) -> None:
    """Channel and KV-group removal and the compiled decoder refuse `model`, naming `words`
    (what its blocks hold; also DiffLlama's and BitNet's: tests/test_diffllama_bitnet.py)."""
    with pytest.raises(FamilyUnsupported, match=f"width surgery.*{words}"):
        surgery.remove_channels(model, 1, [0])
    with pytest.raises(FamilyUnsupported, match=f"width surgery.*{words}"):
        surgery.remove_kv_groups(model, 1, [0])
    with pytest.raises(FamilyUnsupported, match=f"compiled backend.*{words}"):
        StaticDecoder(model, 1, 8, mode="eager")


def test_width_surgery_and_the_compiled_decoder_refuse_minicpm3():
    model = family_model("minicpm3")
    check_surgery_and_the_compiled_decoder_refuse(model, LATENT)
    with pytest.raises(FamilyUnsupported, match="'minicpm3' model"):
        refuse_moe(model.config, "flap (width pruning)")


def test_the_start_refuses_the_compiled_backend_for_minicpm3(tmp_path):
    """A MiniCPM3 model whose config is known at the start (a local folder) is told of the
    compiled backend there, not by its benchmark job; a HyperCLOVA X one runs on it."""
    from prunebench.plan.checks import moe_problems

    minicpm3().save_pretrained(tmp_path / "minicpm3")
    hyperclovax().save_pretrained(tmp_path / "hyperclovax")
    runs = {"models": {name: {"source": f"local:{tmp_path / name}", "variants": ["dense"]}
                       for name in ("minicpm3", "hyperclovax")},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problem, = moe_problems(runs, tmp_path / "nowhere")
    assert problem.startswith("models.minicpm3 (minicpm3) has multi-head latent attention")
    assert "take 'compiled' out of benchmark.backends (hf and hf_static run it)" in problem


def test_lora_targets_of_minicpm3_all_stand_but_k_proj_or_v_proj_alone():
    """Its latent attention's linear layers are adapted by the targets doing their part
    (tests/test_deepseek.py: which) and its dense MLP's by LLaMA's: every target stands, the
    default's seven among them; k_proj without v_proj is refused (kv_a_proj_with_mqa and
    kv_b_proj make both)."""
    config = minicpm3()
    assert expert_target_problem(config, ["q_proj", "k_proj", "v_proj", "o_proj",
                                          "gate_proj", "up_proj", "down_proj"]) is None
    assert expert_target_problem(minicpm3(q_lora_rank=None), ["q_proj", "o_proj"]) is None
    problem = expert_target_problem(config, ["q_proj", "k_proj", "o_proj"])
    assert problem.startswith("lora.target_modules names ['k_proj'] but not ['v_proj']: "
                              "MiniCPM3ForCausalLM reads one kv_a_proj_with_mqa and one "
                              "kv_b_proj as k_proj and v_proj")


def test_a_config_json_of_fewer_kv_heads_than_query_heads_is_refused(tmp_path):
    """MiniCPM3Attention expands its latent keys and values to every query head: fewer KV
    heads builds and stops at the first forward, so such a config.json is refused when read."""
    values = {**json.loads(minicpm3().to_json_string()), "num_key_value_heads": 2}
    with pytest.raises(PrunebenchError, match="num_key_value_heads=2.*latent attention"):
        checked_config_json(_write_config(tmp_path / "m", values))


def test_a_config_json_read_alone_counts_as_transformers_builds_it(tmp_path):
    """config.json's values alone, v_head_dim and head_dim left out (MiniCPM3Config derives
    them: hidden_size / heads, qk_rope_head_dim), count what transformers builds."""
    from prunebench.checkpoint.param_count import config_from_json

    values = {k: v for k, v in json.loads(minicpm3(v_head_dim=None).to_json_string()).items()
              if k not in ("v_head_dim", "head_dim")}
    path = _write_config(tmp_path / "m", values) / "config.json"
    with torch.device("meta"):
        built = sum(p.numel() for p in MiniCPM3ForCausalLM(MiniCPM3Config(**values)).parameters())
    assert count_params(config_from_json(path)) == built
    assert copy.deepcopy(minicpm3(v_head_dim=None)).v_head_dim == 16  # (64 / 4: not 12)
