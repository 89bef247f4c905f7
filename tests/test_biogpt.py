"""BioGPT (biogpt, BioGptForCausalLM; microsoft/biogpt, microsoft/BioGPT-Large): counts against
transformers' models (meta and built), by hand and from config.json alone (OPT's learned positions
of offset 2 counted with the embeddings); prunebench's model computing transformers' logits, tied
and untied; its LM head `output_projection`, left out of a tied checkpoint as transformers saves
it, loaded by prunebench; depth pruning equal to transformers' model of the kept blocks, reloaded
by prunebench and by transformers, with the hf backends decoding as generate; head removal
computing the dense model with the removed heads silenced and MLP channel removal equal to
transformers' model of that width; the compiled decoder on width-pruned tied models, fused and not,
and as generate; each of its own pieces shown to matter: the positions' offset of 2,
scale_embedding, the LayerNorms' biases, and the config's layer_norm_eps that no module reads;
dropout off in training-mode passes; the known shape counted by hand.
tests/test_families.py runs the shared per-family tests on it too (every method, save and
reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from transformers import BioGptConfig, BioGptForCausalLM

from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.param_count import config_from_dict
from prunebench.methods import surgery
from prunebench.modeling import count_params, count_params_meta, load_model, save_model
from test_families import family_config, family_model, ids, logits, numel
from test_gpt_neox import check_a_uniformly_mlp_pruned_model, without_blocks_1_and_2_is
from test_stablelm import decoder_follows_the_change, dropout_turned_off, without_norm_biases
from test_xglm import check_the_decoder_of_width_pruned_scaled_models, unscaled

pytestmark = pytest.mark.usefixtures("one_thread")

HD = 16  # the family tests' tiny model: 4 heads of 16


def small(**kw) -> BioGptConfig:
    """The family tests' tiny BioGPT config with `kw` changed."""
    return family_config("biogpt", **kw)


def tied(**kw):
    """The family tests' tiny model tied, as every published BioGPT is (`kw`: config changes)."""
    return family_model("biogpt", tie_word_embeddings=True, **kw)


@pytest.mark.parametrize("width,tie", [(128, False), (96, True)])
def test_counts_equal_transformers_parameters(width, tie):
    """q/k/v/out_proj and fc1 / fc2 biased, two LayerNorms a block and a final one, a learned
    position table of max_position_embeddings + 2 rows: transformers' model, the meta count,
    the closed form and config.json alone agree, as does the hand count."""
    config = small(intermediate_size=width, tie_word_embeddings=tie)
    model = BioGptForCausalLM(config)
    assert count_params(config) == count_params_meta(config) == numel(model)
    values = json.loads(config.to_json_string())
    assert count_params(config_from_dict(values)) == numel(model)
    d, m, v, positions = 64, width, 128, 256 + 2
    block = 4 * d * d + 4 * d + 2 * d * m + m + d + 2 * 2 * d
    assert numel(model) == v * d * (1 if tie else 2) + positions * d + 4 * block + 2 * d


@pytest.mark.parametrize("tie", [False, True])
def test_prunebenchs_model_is_transformers_model(tie):
    """The family tests' model (built by prunebench, random biases and norms) computes what
    transformers' class computes with its weights; its head answers LLaMA's lm_head."""
    model = family_model("biogpt", tie_word_embeddings=tie)
    assert model.lm_head is model.output_projection
    theirs = BioGptForCausalLM(model.config).eval()
    theirs.load_state_dict(model.state_dict())
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)


def test_a_tied_checkpoint_without_its_head_loads(tmp_path):
    """A tied BioGPT checkpoint holds no output_projection.weight (transformers' save and
    prunebench's alike); prunebench's loader ties the head to the embeddings, whatever the
    head's name (before, it looked for lm_head.weight and refused the checkpoint)."""
    model = tied()
    model.save_pretrained(tmp_path / "theirs")
    save_model(model, None, tmp_path / "ours")
    x = ids()
    for folder in ("theirs", "ours"):
        with safe_open(tmp_path / folder / "model.safetensors", "pt") as f:
            names = set(f.keys())
        assert "biogpt.embed_tokens.weight" in names
        assert not any(name.startswith("output_projection") for name in names)
        loaded = load_model(tmp_path / folder)
        assert loaded.output_projection.weight is loaded.biogpt.embed_tokens.weight
        torch.testing.assert_close(logits(loaded, x), logits(model, x), rtol=0, atol=0)
    theirs = BioGptForCausalLM.from_pretrained(tmp_path / "ours")
    torch.testing.assert_close(logits(theirs, x), logits(model, x), rtol=0, atol=0)


def test_depth_pruning_is_transformers_model_of_the_kept_blocks(tmp_path):
    without_blocks_1_and_2_is(family_model("biogpt"), "biogpt.layers",
                              BioGptForCausalLM(small(num_hidden_layers=2)), tmp_path)


def test_head_removal_computes_the_dense_model_with_those_heads_silenced():
    """Heads 0 and 2 out of block 1 (each its own KV group): the pruned model computes
    transformers' dense model with those heads' out_proj columns zero and counts as its config
    says (BioGptAttention reshapes its heads' output by their count, not by its embed_dim,
    which is told all the same)."""
    model = family_model("biogpt")
    silenced = BioGptForCausalLM(model.config).eval()
    silenced.load_state_dict(model.state_dict())
    with torch.no_grad():
        for h in (0, 2):
            silenced.biogpt.layers[1].self_attn.out_proj.weight[:, h * HD:(h + 1) * HD] = 0
    surgery.remove_kv_groups(model, 1, [0, 2])
    attn = model.biogpt.layers[1].self_attn
    assert (attn.num_heads, attn.embed_dim) == (2, 2 * HD)
    assert numel(model) == count_params(model.config)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(silenced, x), rtol=0, atol=1e-5)


def test_a_uniformly_mlp_pruned_model_is_transformers_model_of_its_width():
    check_a_uniformly_mlp_pruned_model(
        family_model("biogpt"), "biogpt.layers.{}.", "fc1", "fc2",
        lambda width: BioGptForCausalLM(small(intermediate_size=width)))


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_on_width_pruned_models(fuse):
    check_the_decoder_of_width_pruned_scaled_models(tied(), family_model("biogpt"), fuse)


@pytest.mark.parametrize("change", [unscaled, without_norm_biases])
def test_the_decoder_follows_each_of_biogpts_pieces(change):
    """The embeddings' sqrt(hidden_size) scale and every LayerNorm's bias each change its
    logits, and the decoder built from the changed copy follows."""
    decoder_follows_the_change(tied(), change)


def test_the_positions_offset_matters_to_the_decoder():
    """The decoder computes BioGPT's logits; given the table's rows without the offset of 2, it
    computes another model: the agreement is a real check of the offset."""
    model = tied()
    prompt = ids(2, 12, seed=6)
    theirs = logits(model, prompt)[:, -1]
    decoder = StaticDecoder(model, 2, 14, mode="eager")
    torch.testing.assert_close(decoder.prefill_logits(prompt), theirs, rtol=0, atol=1e-5)
    unshifted = StaticDecoder(model, 2, 14, mode="eager")
    table = model.biogpt.embed_positions.weight.detach()
    unshifted.position_table = table[:unshifted.position_table.shape[0]].clone()
    assert (unshifted.prefill_logits(prompt) - theirs).abs().max() > 1e-3


def test_the_configs_layer_norm_eps_is_read_by_no_norm():
    """BioGptConfig's layer_norm_eps (1e-12 as published) is read by no module: every
    LayerNorm keeps torch's 1e-5, and a large value changes neither transformers' logits nor
    the decoder's, which reads each norm's own epsilon."""
    model = tied()
    assert model.config.layer_norm_eps == 1e-12
    assert {m.eps for m in model.modules() if isinstance(m, torch.nn.LayerNorm)} == {1e-5}
    prompt = ids(2, 9, seed=6)
    reference = logits(model, prompt)[:, -1]
    changed = tied(layer_norm_eps=0.5)
    torch.testing.assert_close(logits(changed, prompt)[:, -1], reference, rtol=0, atol=0)
    decoder = StaticDecoder(changed, 2, 12, mode="eager")
    torch.testing.assert_close(decoder.prefill_logits(prompt), reference, rtol=0, atol=1e-5)
    assert decoder.norm_eps == 1e-5


def test_dropout_is_off_in_the_passes_that_run_in_training_mode():
    """BioGPT's hidden_dropout_prob (embeddings, attention and MLP outputs: its modules'
    `dropout`), attention_probs_dropout_prob (the attention's `dropout`; 0.1 each as published)
    and activation_dropout (0 as published, 0.3 here) act in training mode, which
    modeling.base_dropout_off turns off as for every family."""
    model = family_model("biogpt", activation_dropout=0.3)
    plain = family_model("biogpt", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                         activation_dropout=0.0)
    assert model.biogpt.layers[0].activation_dropout == 0.3
    with dropout_turned_off(model, plain):
        pass


def test_the_known_shape_counts_by_hand_and_builds_its_family():
    """BioGPT-Large's count written out by hand: tied embeddings of 57717, a position table of
    2048 + 2 rows, 48 blocks of biased q/k/v/out_proj, fc1 / fc2 of 6400 with biases and two
    LayerNorms, the final LayerNorm."""
    from prunebench.checkpoint.architectures import architecture_config
    from test_families import PUBLISHED

    d, layers, m = 1600, 48, 6400
    block = 4 * d * d + 4 * d + 2 * d * m + m + d + 2 * 2 * d
    assert (57717 + 2048 + 2) * d + layers * block + 2 * d == PUBLISHED["biogpt-large"]
    config = architecture_config("biogpt-large")
    assert type(config).__name__ == "BioGptConfig" and config.scale_embedding
    assert config.tie_word_embeddings
