"""GPT-J (gptj, GPTJForCausalLM; gpt-j-6b and the models fine-tuned from it): exact counts
over its options (n_inner, tying) with and without transformers, from a config.json of GPT-J's
own keys and by hand for the known shape; its modules read by LLaMA's names while the state
dict keeps transformers'; head removal keeping each kept head's q, k and v rows and out_proj
columns, the pruned model computing what transformers' own dense model computes with the
removed heads silenced (so each kept head rotates its own first rotary_dim dimensions, in
adjacent pairs, as before); a uniformly MLP-pruned model equal to transformers' model of that
width; depth pruning equal to transformers' model of the kept blocks, saved and reloaded by
prunebench and by transformers' class; the compiled decoder against transformers on
width-pruned models, fused and not, each of its pieces shown to matter, and its refusal past
the sin / cos table; FLAP's compensation in the parallel block of one LayerNorm; its dropout
off in training-mode passes; LoRA's adapters on its own module names; a checkpoint of older
transformers with the attention's causal-mask buffers (tests/test_families.py runs the shared
per-family tests on it too: every method, save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import GPTJConfig, GPTJForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError, projections
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.architectures import (ARCHITECTURES, architecture_config,
                                                known_shape_of)
from prunebench.checkpoint.param_count import (checked_config_json, checkpoint_config,
                                             config_from_dict, kv_heads, norms_per_block,
                                             parallel_block)
from prunebench.lora import lora_target_names
from prunebench.methods import surgery
from prunebench.modeling import (ZeroHeadAttention, build_model,
                                 count_params, count_params_meta, final_norm, load_config,
                                 load_model, remove_blocks, save_model)
from prunebench.plan.lora_settings import TARGETS
from test_cohere import (decoder_gives_transformers_logits, decodes_as_generate_does,
                         flap_keeps_each_blocks_mean_output, reloads_with_its_logits)
from test_families import (PUBLISHED, VOCAB, family_config, family_model, ids, logits,
                           numel)
from test_gpt_neox import (check_a_uniformly_mlp_pruned_model,
                           check_a_width_pruned_config_json_counts_without_torch, width_pruned,
                           without_blocks_1_and_2_is)
from test_stablelm import decoder_follows_the_change, dropout_turned_off, without_norm_biases

pytestmark = pytest.mark.usefixtures("one_thread")

# the family tests' tiny GPT-J (test_gpt_neox's helpers read its 4 heads and 128 channels)
HEADS, HD, ROTARY = 4, 16, 4


def small(**kw) -> GPTJConfig:
    return family_config("gptj", **kw)


@pytest.mark.parametrize("inner,tied", list(itertools.product([None, 96], [False, True])))
def test_counts_equal_transformers_parameters(inner, tied):
    config = small(n_inner=inner, tie_word_embeddings=tied)
    model = GPTJForCausalLM(config)
    layer = model.transformer.h[0]
    assert all(getattr(layer.attn, name).bias is None
               for name in ("q_proj", "k_proj", "v_proj", "out_proj"))
    assert layer.mlp.fc_in.bias is not None and layer.mlp.fc_out.bias is not None
    assert layer.mlp.fc_in.out_features == (inner or 4 * 64)  # 4 x n_embd where None
    assert model.lm_head.bias is not None  # biased whether tied or not
    assert parallel_block(config) and norms_per_block(config) == 1  # ln_1 alone
    assert kv_heads(config) == HEADS
    assert count_params(config) == count_params_meta(config) == numel(model)
    # and without transformers, from its config.json's values (`prunebench plan`)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


def test_a_published_config_json_counts_as_transformers_builds_it(tmp_path):
    """GPT-J's config.json names its sizes n_embd, n_layer, n_head, n_positions and n_inner
    (null: 4 x n_embd), as gpt-j-6b's does; no num_key_value_heads, and a stray one builds
    nothing in transformers' model (every head its own keys and values)."""
    values = {"model_type": "gptj", "vocab_size": 97, "n_embd": 48, "n_inner": None,
              "n_layer": 3, "n_head": 6, "n_positions": 64, "rotary_dim": 4,
              "activation_function": "gelu_new", "tie_word_embeddings": False}
    theirs = GPTJForCausalLM(GPTJConfig(**values))
    d, m, vocab = 48, 4 * 48, 97
    # q/k/v/out_proj without biases, fc_in / fc_out with, one LayerNorm (weight and bias)
    block = 4 * d * d + 2 * d * m + m + d + 2 * d
    by_hand = 3 * block + 2 * vocab * d + vocab + 2 * d  # embedding, head and its bias, ln_f
    assert count_params(config_from_dict(values)) == numel(theirs) == by_hand
    stray = config_from_dict({**values, "num_key_value_heads": 2})
    assert kv_heads(stray) == stray.num_key_value_heads == 6
    assert count_params(stray) == by_hand
    # nor does the config.json's check read it, 4 being no divisor of the 6 heads
    (tmp_path / "config.json").write_text(json.dumps({**values, "num_key_value_heads": 4}))
    assert count_params(config_from_dict(checked_config_json(tmp_path))) == by_hand


def test_a_config_json_with_a_null_rotary_dim_is_refused_naming_the_whole_head(tmp_path):
    """rotary_dim null: GPTJConfig's strict check refuses it; past that check (its attribute
    set under it), GPTJAttention rotates the whole of each head by a sin / cos table n_embd
    wide, which is the model of rotary_dim = head_dim with one head and stops at the first
    forward with more. Refused by every reader of the config.json and by the build, naming
    the value to give for the whole head."""
    values = {"model_type": "gptj", "vocab_size": VOCAB, "n_embd": 48, "n_layer": 2, "n_head": 6,
              "n_positions": 64, "rotary_dim": None, "tie_word_embeddings": False}
    with pytest.raises(Exception, match="rotary_dim"):  # transformers' own check
        GPTJConfig(**values)
    said = (r"gives rotary_dim null for a GPT-J model: .*Give rotary_dim the dimensions of each "
            r"head .*: n_embd / n_head = 8 for the whole head")
    (tmp_path / "config.json").write_text(json.dumps(values))
    for read in (checked_config_json, load_config, checkpoint_config):
        with pytest.raises(FamilyUnsupported, match=said):
            read(tmp_path)
    config = GPTJConfig(**{**values, "rotary_dim": 8})
    config.__dict__["rotary_dim"] = None  # (under GPTJConfig's check, as a model's build sees it)
    with pytest.raises(FamilyUnsupported, match="this config gives rotary_dim null"):
        build_model(config)
    x = ids()
    with pytest.raises(RuntimeError):  # transformers' model of 6 heads cannot run it
        logits(GPTJForCausalLM(config).eval(), x)
    # with one head, null is the whole head rotating: the model of rotary_dim = head_dim
    one = {**values, "n_head": 1, "rotary_dim": 48}
    torch.manual_seed(0)
    whole = GPTJForCausalLM(GPTJConfig(**one)).eval()
    config = GPTJConfig(**one)
    config.__dict__["rotary_dim"] = None
    torch.manual_seed(0)
    assert torch.equal(logits(GPTJForCausalLM(config).eval(), x), logits(whole, x))


def test_its_modules_answer_llamas_names_and_keep_their_own(tmp_path):
    """prunebench reads GPT-J's modules by LLaMA's names (aliases, not submodules): the state
    dict, and so the checkpoint, keeps transformers' names (transformer.h.N.attn, ln_1, ...),
    a copy's aliases are the copy's modules, and a block's attention replaced by surgery, or
    the blocks replaced by depth pruning, are the ones its forward calls."""
    model = family_model("gptj")
    assert model.model is model.transformer and model.model.layers is model.transformer.h
    assert final_norm(model) is model.transformer.ln_f
    assert all(layer.self_attn is layer.attn and projections.block_norm(
        layer, "input_layernorm") is layer.ln_1 for layer in model.model.layers)
    assert projections.get_part(model.model.layers[0].self_attn, "o_proj") is \
        model.transformer.h[0].attn.out_proj
    assert projections.get_part(model.model.layers[0].mlp, "up_proj") is \
        model.transformer.h[0].mlp.fc_in
    assert set(model.state_dict()) == set(GPTJForCausalLM(model.config).state_dict())
    copied = copy.deepcopy(model)
    assert copied.model is copied.transformer and copied.model is not model.transformer
    surgery.remove_kv_groups(copied, 2, range(HEADS))
    layer = copied.transformer.h[2]
    assert isinstance(layer.attn, ZeroHeadAttention) and layer.self_attn is layer.attn
    assert "self_attn" not in layer._modules
    remove_blocks(copied, [0])
    assert copied.model.layers is copied.transformer.h and len(copied.transformer.h) == 3
    assert "layers" not in copied.transformer._modules
    reloads_with_its_logits(copied, ids(), tmp_path)  # saved as m, under its own names
    reloaded = load_model(tmp_path / "m")
    assert reloaded.model is reloaded.transformer  # (prunebench's loader answers LLaMA's too)


def head_cols(heads: list[int]) -> list[int]:
    return [h * HD + c for h in heads for c in range(HD)]


@pytest.mark.parametrize("removed", [[0], [3], [1, 2], [0, 2, 3]])
def test_head_removal_keeps_each_kept_heads_rotation(removed):
    """The kept q_proj, k_proj and v_proj hold exactly the kept heads' rows in their order,
    out_proj their columns; and the pruned model (transformers' own GPTJAttention running
    fewer heads) computes what transformers' dense GPTJForCausalLM computes with the removed
    heads silenced (their out_proj columns zero): every kept head still rotates its own first
    rotary_dim dimensions in adjacent pairs at each position, and attends as before. Rows
    taken in another order (a head's query beside another head's key) compute another model."""
    model = family_model("gptj")
    kept = [h for h in range(HEADS) if h not in removed]
    attn = model.model.layers[1].self_attn
    before = {name: getattr(attn, name).weight.detach().clone()
              for name in ("q_proj", "k_proj", "v_proj", "out_proj")}
    silenced = GPTJForCausalLM(model.config).eval()
    silenced.load_state_dict(model.state_dict())
    with torch.no_grad():
        silenced.transformer.h[1].attn.out_proj.weight[:, head_cols(removed)] = 0
    surgery.remove_kv_groups(model, 1, removed)
    attn = model.model.layers[1].self_attn
    for name in ("q_proj", "k_proj", "v_proj"):
        assert torch.equal(getattr(attn, name).weight, before[name][head_cols(kept)])
    assert torch.equal(attn.out_proj.weight, before["out_proj"][:, head_cols(kept)])
    assert projections.attention_heads(attn, HD) == (len(kept), len(kept))
    assert attn.num_attention_heads == len(kept)  # (transformers 5.17 splits by it)
    assert numel(model) == count_params(model.config)
    x = ids()
    mine = logits(model, x)
    torch.testing.assert_close(mine, logits(silenced, x), rtol=0, atol=1e-5)
    if len(kept) > 1:  # the kept keys in another head order: another model
        wrong = copy.deepcopy(model)
        with torch.no_grad():
            rows = head_cols(list(range(len(kept)))[::-1])
            key = wrong.model.layers[1].self_attn.k_proj.weight
            key.copy_(key[rows].clone())
        assert (logits(wrong, x) - mine).abs().max() > 1e-2


def test_a_uniformly_mlp_pruned_model_is_transformers_model_of_its_width():
    """MLP channels removed in every block: transformers' GPTJForCausalLM built at the kept
    width (n_inner), given the kept channels' rows (fc_in and its bias) and columns (fc_out)
    sliced by hand, computes the same logits."""
    check_a_uniformly_mlp_pruned_model(family_model("gptj"), "transformer.h.{}.mlp.", "fc_in",
                                       "fc_out", lambda width: GPTJForCausalLM(small(n_inner=width)))


def test_depth_pruning_is_transformers_model_of_the_kept_blocks(tmp_path):
    """Blocks 1 and 2 removed: transformers' GPTJForCausalLM of two blocks, given blocks 0
    and 3, computes the same logits; saved, the model reloads by prunebench and by
    transformers' class and both hf backends decode as transformers' generate."""
    pruned = without_blocks_1_and_2_is(family_model("gptj"), "transformer.h",
                                       GPTJForCausalLM(small(n_layer=2)), tmp_path)
    assert pruned.config.n_layer == 2  # (GPTJConfig's own key for num_hidden_layers)


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(fuse):
    decoder = decoder_gives_transformers_logits(width_pruned(family_model("gptj")), fuse)
    # one norm a block, both sublayers reading it; attention + MLP summed first
    assert all(block.parallel and block.ln2 is None and block.outputs_first
               for block in decoder.blocks)
    assert decoder.cos.shape[-1] == ROTARY  # a quarter of each head's 16 dimensions


def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does():
    decodes_as_generate_does(width_pruned(family_model("gptj")))


def _without_lm_head_bias(model):
    with torch.no_grad():
        model.lm_head.bias.zero_()


def _whole_heads_rotating(model):
    """Every dimension of each head rotating (rotary_dim = head_dim): the published quarter is
    what the decoder must rotate. The table is rebuilt where the installed transformers keeps
    it (5.25: the model's rotary module; 5.17: every attention)."""
    model.config.rotary_dim = HD
    inner = model.transformer
    if hasattr(inner, "rotary_emb"):
        inner.rotary_emb = type(inner.rotary_emb)(config=model.config)
    for layer in inner.h:
        layer.attn.rotary_dim = HD
        if hasattr(layer.attn, "embed_positions"):
            layer.attn.pos_embd_dim = HD
            layer.attn.embed_positions = type(layer.attn)(model.config, 0).embed_positions


@pytest.mark.parametrize("change", [without_norm_biases, _without_lm_head_bias,
                                    _whole_heads_rotating])
def test_the_decoder_applies_each_of_gptjs_pieces(change):
    """Each piece the decoder reproduces changes this model's logits (else the comparison
    above would not see it dropped): the LayerNorms' biases, the LM head's bias, the rotated
    quarter of each head; the decoder built from the changed model follows it."""
    decoder_follows_the_change(family_model("gptj"), change)


def test_the_compiled_decoder_refuses_a_cell_past_the_sin_cos_table():
    """GPT-J's rotation reads a fixed table of n_positions rows: a cell past it has no
    rotation in transformers' model either, and is refused, naming the table's length."""
    model = family_model("gptj", n_positions=12)
    StaticDecoder(model, 1, 12, mode="eager").close()
    with pytest.raises(PrunebenchError, match=r"holds 12 positions \(n_positions\).*runs to 13"):
        StaticDecoder(model, 1, 13, mode="eager")


def test_flap_compensates_each_sublayer_of_the_parallel_block_with_its_removed_mean():
    """Attention and MLP read the one LayerNorm's output and their outputs are added once:
    FLAP's compensations keep every pruned block's mean output."""
    flap_keeps_each_blocks_mean_output(family_model("gptj"))


def test_its_dropout_is_off_in_the_passes_that_run_in_training_mode():
    """GPTJConfig's attn_pdrop, resid_pdrop and embd_pdrop act in training mode: the Taylor+
    scores' and LoRA's passes turn them off (modeling.base_dropout_off) and restore them
    after."""
    model = family_model("gptj", attn_pdrop=0.3, resid_pdrop=0.3, embd_pdrop=0.3)
    assert model.transformer.drop.p == 0.3 and model.transformer.h[0].mlp.dropout.p == 0.3
    with dropout_turned_off(model, family_model("gptj")):
        assert model.transformer.h[0].mlp.dropout.p == 0.0
    assert model.transformer.h[0].mlp.dropout.p == 0.3


def test_lora_adapts_its_own_modules_by_llamas_targets():
    """The default targets adapt each block's q_proj, k_proj, v_proj, out_proj, fc_in and
    fc_out, by transformers' names."""
    model = family_model("gptj")
    chosen, skipped = lora_target_names(model, list(TARGETS))
    own = ("attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.out_proj", "mlp.fc_in",
           "mlp.fc_out")
    assert sorted(chosen) == sorted(f"transformer.h.{b}.{name}" for b in range(4)
                                    for name in own) and not skipped


def test_a_width_pruned_config_json_counts_without_torch(tmp_path):
    check_a_width_pruned_config_json_counts_without_torch("gptj", tmp_path)


def test_a_checkpoint_with_the_attentions_old_mask_buffers_loads_as_transformers_loads_it(
        tmp_path):
    """Checkpoints saved by older transformers carry each attention's causal-mask buffers
    (attn.bias, attn.masked_bias), which GPTJForCausalLM ignores when it loads: prunebench's
    loader sets them aside too, and the model computes the saved one's logits."""
    model = family_model("gptj")
    x = ids()
    save_model(model, None, tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    state = load_file(weights)
    for b in range(4):
        state[f"transformer.h.{b}.attn.bias"] = torch.ones(1, 1, 8, 8)
        state[f"transformer.h.{b}.attn.masked_bias"] = torch.tensor(-1e9)
    save_file(state, weights, metadata={"format": "pt"})
    ours = load_model(tmp_path / "m", verify=False)
    assert torch.equal(logits(ours, x), logits(model, x))
    theirs = GPTJForCausalLM.from_pretrained(tmp_path / "m", dtype=torch.float32).eval()
    torch.testing.assert_close(logits(theirs, x), logits(model, x), rtol=0, atol=1e-5)


def test_the_known_shape_counts_by_hand_and_builds_its_family():
    """gpt-j-6b written out by hand: q/k/v/out_proj without biases, an ungated MLP of
    4 x 4096 with biases, one LayerNorm a block with weight and bias, untied embeddings and a
    biased head, a final LayerNorm."""
    d, m, blocks, vocab = 4096, 16384, 28, 50400
    block = 4 * d * d + (2 * d * m + m + d) + 2 * d
    by_hand = blocks * block + 2 * vocab * d + vocab + 2 * d
    assert by_hand == PUBLISHED["gpt-j-6b"] == 6_050_882_784
    assert count_params(config_from_dict(ARCHITECTURES["gpt-j-6b"])) == by_hand
    built = architecture_config("gpt-j-6b")
    assert type(built).__name__ == "GPTJConfig" and built.num_attention_heads == 16
    assert built.rotary_dim == 64 and built.n_inner is None and not built.tie_word_embeddings
    assert count_params(built) == count_params_meta(built) == by_hand
    model = build_model(built, device="meta")
    assert model.model.layers[0].mlp.fc_in.out_features == m
    assert numel(model) == by_hand


@pytest.mark.parametrize("repo, shape", [
    ("EleutherAI/gpt-j-6b", "gpt-j-6b"),
    ("EleutherAI/gpt-j-6B", "gpt-j-6b"),
    ("EleutherAI/gpt-neo-2.7B", None),  # another family (GPT-Neo)
])
def test_the_hub_ids_name_their_known_shape_and_no_other(repo, shape):
    assert known_shape_of(repo) == shape

