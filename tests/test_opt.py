"""OPT (opt, OPTForCausalLM; opt-125m ... opt-66b): learned absolute positions (a table of
max_position_embeddings + 2 rows), q/k/v/out_proj and an ungated fc1 -> relu -> fc2 MLP held by
the block itself, all biased by enable_bias, LayerNorms with weights and biases (by
layer_norm_elementwise_affine) before each sublayer, a final LayerNorm unless
_remove_final_layer_norm, the LM head tied, the blocks under model.decoder.layers. Exact counts
(against transformers' meta model, config.json's values alone and the arithmetic by hand);
depth pruning equal to transformers' OPTForCausalLM built of the kept blocks, saved and
reloaded by prunebench and by transformers' class, the hf and hf_static backends' tokens equal
to transformers' generate; every depth method on its blocks; a checkpoint of OPTModel's names
(decoder.*) loaded as transformers loads it; the training-mode passes without OPT's dropout; width surgery of the MLP equal to transformers' model of that width, and of heads
taking their rows, biases and out_proj columns; and the refusals (opt-350m's post-LN block and
embedding projections; the compiled decoder without a final norm). tests/test_families.py runs
every method, both backends, perplexity and LoRA on OPT too."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import OPTConfig, OPTForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params)
from prunebench.methods import surgery
from prunebench.methods.registry import method_function
from prunebench.modeling import (base_dropout_off, build_model, count_params_meta, load_model,
                                 remove_blocks, save_model)
from block_helpers import kept_blocks_state
from test_families import (METHODS, TARGET, VOCAB, WIDTH_METHODS, ids, in_allocated_memory,
                           logits, numel)
from test_qwen3_next import check_hf_backends_decode_as_transformers


def small(**changes) -> OPTConfig:
    """A tiny OPT: every head its own keys and values (OPTAttention's MHA), biases everywhere
    (as published), relu, a position table of 64 + 2 rows, tied (as published)."""
    values = dict(vocab_size=VOCAB, hidden_size=64, ffn_dim=96, num_hidden_layers=4,
                  num_attention_heads=4, max_position_embeddings=64, bos_token_id=1,
                  eos_token_id=2, pad_token_id=0)
    return OPTConfig(**{**values, **changes})


def random_model(config: OPTConfig, seed: int = 0):
    """Weights of std 0.1 (0.02 leaves this random tied model repeating one token greedily),
    biases around 0 and norm weights around 1 (transformers' 0 and 1 would hide a slice
    taken wrongly), the position table as random as the rest."""
    torch.manual_seed(seed)
    model = build_model(config, device="cpu")
    with torch.no_grad():
        for name, p in model.named_parameters():
            weight = "norm" in name and name.endswith(".weight")
            p.copy_(torch.randn_like(p) * (0.2 if p.dim() == 1 else 0.1) + float(weight))
    return model.eval()


def by_hand(config: OPTConfig) -> int:
    """OPT's parameters by hand: the embeddings (tied unless the config says), the position
    table (max_position_embeddings + 2 rows), per block four hidden x hidden projections and
    fc1 / fc2 (biases by enable_bias), two LayerNorms (weight and bias, by
    layer_norm_elementwise_affine), the final LayerNorm unless _remove_final_layer_norm."""
    d, m, v = config.hidden_size, config.ffn_dim, config.vocab_size
    bias = config.enable_bias
    norm = 2 * d if config.layer_norm_elementwise_affine else 0
    block = 4 * d * d + (4 * d if bias else 0) + 2 * d * m + ((m + d) if bias else 0) + 2 * norm
    return (v * d * (1 if config.tie_word_embeddings else 2)
            + (config.max_position_embeddings + 2) * d
            + config.num_hidden_layers * block
            + (0 if config._remove_final_layer_norm else norm))


@pytest.mark.parametrize("changes", [
    {}, {"enable_bias": False}, {"layer_norm_elementwise_affine": False},
    {"_remove_final_layer_norm": True}, {"tie_word_embeddings": False},
    {"num_attention_heads": 8, "max_position_embeddings": 30}])
def test_counts_agree_with_transformers_and_by_hand(changes, tmp_path):
    config = small(**changes)
    model = build_model(config, device="cpu")
    assert count_params(config) == count_params_meta(config) == numel(model) == by_hand(config)
    config.save_pretrained(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    assert count_params(config_from_dict(raw)) == numel(model)
    # a config.json of OPT's keys alone (no KV-head key, ffn_dim): OPTConfig's defaults,
    # opt-125m's shape, as the class reads it
    assert count_params(config_from_dict({"model_type": "opt"})) == numel(
        build_model(OPTConfig(), device="meta"))


def test_a_kv_head_key_opt_does_not_read_leaves_every_head_its_own_keys_and_values():
    """OPTAttention builds keys and values for every head: a num_key_value_heads in the config
    (which OPTConfig keeps and ignores) changes no count."""
    assert count_params(config_from_dict({**small().to_dict(), "num_key_value_heads": 2})) \
        == by_hand(small())


@pytest.mark.parametrize("stray", [3, 0])
def test_a_config_json_with_a_kv_head_key_opt_does_not_read_is_not_refused(stray, tmp_path):
    """A num_key_value_heads that is no divisor of the heads (or no count at all) describes
    nothing OPTAttention builds: the config.json's check reads it as the class does, and the
    model is counted and built as without it."""
    small().save_pretrained(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**raw, "num_key_value_heads": stray}))
    values = checked_config_json(tmp_path)
    assert count_params(config_from_dict(values)) == by_hand(small()) == numel(
        build_model(OPTConfig(**values), device="meta"))


@pytest.mark.parametrize("drop", [[1], [0, 3]])
def test_depth_pruning_is_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """The pruned model computes what OPTForCausalLM of the kept blocks computes (the position
    table, embeddings and final norm untouched), and reloads as it by prunebench and by
    transformers' class, whose hf and hf_static tokens equal transformers' generate."""
    check_depth_prune_is_transformers_model(random_model(small()), drop, "model.decoder.layers.",
                                            OPTForCausalLM, lambda n: small(num_hidden_layers=n),
                                            tmp_path)


def check_depth_prune_is_transformers_model(model, drop: list[int], blocks: str, cls, config_of,
                                            tmp_path) -> None:
    """`model` with its blocks `drop` removed computes what transformers' `cls` of
    `config_of(n)` (n blocks) computes with the kept blocks' weights (`blocks`: their names'
    prefix), counts as it, and reloads as it by prunebench and by `cls`, whose hf and
    hf_static tokens equal transformers' generate."""
    keep = [i for i in range(model.config.num_hidden_layers) if i not in drop]
    state = {key: tensor.clone() for key, tensor in kept_blocks_state(model, keep, blocks).items()}
    theirs = cls(config_of(len(keep))).eval()
    theirs.load_state_dict(state)
    remove_blocks(model, drop)
    x = ids()
    assert torch.equal(logits(model, x), logits(theirs, x))
    assert count_params(model.config) == numel(model) == numel(theirs)
    save_model(model, None, tmp_path)
    ours = load_model(tmp_path)
    loaded = in_allocated_memory(cls.from_pretrained(tmp_path, dtype=torch.float32))
    assert torch.equal(logits(ours, x), logits(theirs, x))
    assert torch.equal(logits(loaded.eval(), x), logits(theirs, x))
    check_hf_backends_decode_as_transformers(ours, loaded.eval())


@pytest.mark.parametrize("method", sorted(set(METHODS) - WIDTH_METHODS))
def test_every_depth_method_prunes_opt(method):
    """Each depth method scores OPT's blocks (under model.decoder.layers) and removes one of
    the four, as the family tests' target asks: the model left counts as its config says."""
    model = random_model(small())
    report = method_function(method)(model, ids(8, 24, seed=3), int(TARGET * numel(model)),
                                     **METHODS[method])
    assert len(report["removed_blocks"]) == 1
    assert model.config.num_hidden_layers == 3 == len(model.model.decoder.layers)
    assert count_params(model.config) == numel(model)


def test_a_checkpoint_of_the_base_models_names_loads_as_transformers_loads_it(tmp_path):
    """A checkpoint saved from OPTModel (names decoder.*, no LM head: tied), which
    transformers' OPTForCausalLM loads under its base_model_prefix, loads so in prunebench."""
    model = random_model(small())
    save_model(model, None, tmp_path)
    weights = tmp_path / "model.safetensors"
    state = load_file(weights)
    save_file({key.removeprefix("model."): tensor for key, tensor in state.items()
               if key.startswith("model.")}, weights, metadata={"format": "pt"})
    assert all(key.startswith("decoder.") for key in load_file(weights))
    theirs = in_allocated_memory(OPTForCausalLM.from_pretrained(tmp_path, dtype=torch.float32))
    x = ids()
    assert torch.equal(logits(load_model(tmp_path, verify=False), x), logits(model, x))
    assert torch.equal(logits(theirs.eval(), x), logits(model, x))


def test_the_training_mode_passes_turn_opts_dropout_off():
    """OPTDecoderLayer's and OPTAttention's `dropout` (0.1 as published) and OPTDecoder's
    `layerdrop` act in training mode: base_dropout_off zeroes them, so a gradient pass
    computes the eval-mode logits."""
    model = random_model(small(dropout=0.5, attention_dropout=0.5, layerdrop=0.5))
    x = ids()
    expected = logits(model, x)
    model.train()
    with base_dropout_off(model), torch.no_grad():
        assert torch.equal(model(input_ids=x, use_cache=False).logits, expected)
    assert model.model.decoder.layers[0].dropout == 0.5  # restored after the pass
    assert model.model.decoder.layerdrop == 0.5


@pytest.mark.parametrize("changes, refused", [
    ({"do_layer_norm_before": False}, "do_layer_norm_before false.*post-LN.*opt-350m"),
    ({"word_embed_proj_dim": 32}, "word_embed_proj_dim 32 against hidden_size 64.*project_in")])
def test_opt_350ms_layout_is_refused_with_what_to_use(changes, refused, tmp_path):
    """opt-350m's post-LN block and its embedding projections: refused from config.json (every
    reader) and by build_model, naming the sizes that are handled."""
    config = small(**changes)
    with pytest.raises(FamilyUnsupported, match=f"{refused}.*opt-125m, opt-1.3b"):
        build_model(config, device="meta")
    config.save_pretrained(tmp_path)
    with pytest.raises(FamilyUnsupported, match=refused):
        checked_config_json(tmp_path)


def test_uniform_mlp_pruning_is_transformers_model_of_that_width():
    """MLP channels removed from every block by prunebench's surgery (fc1's rows and bias
    entries, fc2's columns: the block holds them itself) give the logits of transformers'
    OPTForCausalLM of that ffn_dim with the kept rows and columns sliced by hand."""
    model = random_model(small())
    gone = [0, 5, 17, 40, 95]
    keep = [c for c in range(96) if c not in gone]
    state = {}
    for key, tensor in model.state_dict().items():
        if ".fc1." in key:
            tensor = tensor[keep]
        elif key.endswith(".fc2.weight"):
            tensor = tensor[:, keep]
        state[key] = tensor.clone()
    for block in range(4):
        surgery.remove_channels(model, block, gone)
    theirs = OPTForCausalLM(small(ffn_dim=len(keep))).eval()
    theirs.load_state_dict(state)
    x = ids()
    assert torch.equal(logits(model, x), logits(theirs, x))
    assert count_params(model.config) == numel(model) == numel(theirs)


def test_a_removed_head_takes_its_rows_bias_and_out_proj_columns():
    """Removing head 1 of a block keeps exactly the other heads' q/k/v rows and bias entries
    and out_proj's columns (OPT's out_proj, its bias whole), and the block's attention views
    its projections by the heads left."""
    model = random_model(small())
    attn = model.model.decoder.layers[2].self_attn
    before = {name: p.detach().clone() for name, p in attn.named_parameters()}
    surgery.remove_kv_groups(model, 2, [1])
    rows = [*range(16), *range(32, 64)]  # head_dim 16: heads 0, 2, 3
    for part in ("q_proj", "k_proj", "v_proj"):
        assert torch.equal(getattr(attn, part).weight, before[f"{part}.weight"][rows])
        assert torch.equal(getattr(attn, part).bias, before[f"{part}.bias"][rows])
    assert torch.equal(attn.out_proj.weight, before["out_proj.weight"][:, rows])
    assert torch.equal(attn.out_proj.bias, before["out_proj.bias"])
    assert attn.num_heads == 3
    assert count_params(model.config) == numel(model)
    logits(model, ids())  # the block computes with its three heads


def test_the_compiled_decoder_refuses_a_model_without_its_final_norm():
    """_remove_final_layer_norm (checkpoints fine-tuned before transformers 4.20.1): no final
    norm for the compiled decoder to read; the hf backends run it."""
    model = random_model(small(_remove_final_layer_norm=True))
    with pytest.raises(PrunebenchError, match="without a final norm.*hf or hf_static"):
        StaticDecoder(model, 1, 8, mode="eager")
