"""Persimmon (persimmon, PersimmonForCausalLM; adept/persimmon-8b-base / -chat) and GPT-Neo
(gpt_neo, GPTNeoForCausalLM; EleutherAI/gpt-neo-125m / 1.3B / 2.7B): counts over their options
against transformers' models (meta and built), by hand and from config.json alone; prunebench's
model computing transformers' logits; depth pruning equal to transformers' model of the kept
blocks, reloaded by prunebench and by transformers (GPT-Neo's kept blocks keeping their global /
local kinds through attention_types), with the hf backends decoding as generate; head removal
computing the dense model with the removed heads silenced (neither class builds heads narrower
than hidden_size / heads) and MLP channel removal equal to transformers' model of that width;
the compiled decoder on width-pruned models, fused and not, and as generate; each of their own
pieces shown to matter: Persimmon's q/k LayerNorms and their biases, its half-rotated heads;
GPT-Neo's local windows, its unscaled scores, transformers' static cache banding the local
blocks elsewhere (hf_static refused), SDPA refused. tests/test_families.py runs the shared
per-family tests on both too (every method, save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from transformers import GPTNeoForCausalLM, PersimmonForCausalLM

from prunebench import PrunebenchError
from prunebench import benchmark as bench
from prunebench.benchmark.attention import check_softcap_attention, resolve_attention
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.param_count import (FamilyUnsupported, checked_config_json,
                                               config_from_dict, sliding_windows)
from prunebench.methods import surgery
from prunebench.modeling import (build_model, count_params, count_params_meta, load_model,
                                 remove_blocks, save_model)
from prunebench.plan.checks import softcap_attention_problems, static_cache_problems
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does
from test_families import FAMILIES, family_model, ids, in_allocated_memory, logits, numel
from test_gpt_neox import check_a_uniformly_mlp_pruned_model, width_pruned
from test_gpt_neox import _whole_heads_rotating, without_blocks_1_and_2_is
from test_stablelm import decoder_follows_the_change, dropout_turned_off, without_norm_biases

pytestmark = pytest.mark.usefixtures("one_thread")

CLASSES = {"persimmon": PersimmonForCausalLM, "gpt_neo": GPTNeoForCausalLM}
# Where each family's blocks, attention and MLP live (the state dict's names)
BLOCKS = {"persimmon": "model.layers", "gpt_neo": "transformer.h"}
MLP = {"persimmon": ("dense_h_to_4h", "dense_4h_to_h"), "gpt_neo": ("c_fc", "c_proj")}
OUT = {"persimmon": "self_attn.dense", "gpt_neo": "attn.attention.out_proj"}
HEADS, HD = 4, 16  # the family tests' tiny models: 4 heads of 16


def small(name: str, **kw):
    """The family tests' tiny config of `name`, with `kw` changed (GPT-Neo's attention_layers
    left to GPTNeoConfig to expand from attention_types: given, it would be kept as given)."""
    values = {k: v for k, v in FAMILIES[name]().to_dict().items() if k != "attention_layers"}
    return type(FAMILIES[name]())(**{**values, **kw})


@pytest.mark.parametrize("qk_layernorm,tied", list(itertools.product([False, True], repeat=2)))
def test_persimmon_counts_equal_transformers_parameters(qk_layernorm, tied):
    """query_key_value and dense always biased, q/k LayerNorms over head_dim (weight and bias,
    shared by the heads) where qk_layernorm, biased MLP and LayerNorms: transformers' model,
    the meta count, the closed form and config.json's values alone agree, as does the hand
    count."""
    config = small("persimmon", qk_layernorm=qk_layernorm, tie_word_embeddings=tied)
    model = PersimmonForCausalLM(config)
    assert hasattr(model.model.layers[0].self_attn, "q_layernorm") == qk_layernorm
    assert count_params(config) == count_params_meta(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)
    d, m, v = 64, 128, 128
    block = (3 * d * d + 3 * d + d * d + d + 2 * d * m + m + d + 2 * 2 * d
             + (2 * 2 * HD if qk_layernorm else 0))
    assert numel(model) == v * d * (1 if tied else 2) + 4 * block + 2 * d


@pytest.mark.parametrize("width,tied", list(itertools.product([None, 96], [False, True])))
def test_gpt_neo_counts_equal_transformers_parameters(width, tied):
    """q/k/v without biases, out_proj biased, learned positions, an MLP of intermediate_size (4
    x hidden_size where null) with biases, LayerNorms with biases: transformers' model, the
    meta count, the closed form and config.json's own keys alone (num_layers, num_heads)
    agree, as does the hand count."""
    config = small("gpt_neo", intermediate_size=width, tie_word_embeddings=tied)
    model = GPTNeoForCausalLM(config)
    assert count_params(config) == count_params_meta(config) == numel(model)
    values = json.loads(config.to_json_string())
    assert values["num_layers"] == 4 and "num_hidden_layers" not in values
    assert count_params(config_from_dict(values)) == numel(model)
    d, m, v, positions = 64, width or 4 * 64, 128, 256
    block = 4 * d * d + d + 2 * d * m + m + d + 2 * 2 * d
    assert numel(model) == v * d * (1 if tied else 2) + positions * d + 4 * block + 2 * d


@pytest.mark.parametrize("name", ["persimmon", "gpt_neo"])
def test_prunebenchs_model_is_transformers_model(name):
    """The family tests' model (built by prunebench, random biases and norms) computes what
    transformers' class computes with its weights."""
    model = family_model(name)
    theirs = CLASSES[name](model.config).eval()
    theirs.load_state_dict(model.state_dict())
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)


def test_persimmon_depth_pruning_is_transformers_model_of_the_kept_blocks(tmp_path):
    without_blocks_1_and_2_is(family_model("persimmon"), "model.layers",
                              PersimmonForCausalLM(small("persimmon", num_hidden_layers=2)),
                              tmp_path)


def test_gpt_neo_depth_pruning_is_transformers_model_of_the_kept_blocks(tmp_path):
    """Blocks 1 and 2 out of global / local / global / local: transformers' model of a global
    and a local block, given blocks 0 and 3, computes the same logits; saved, it reloads by
    prunebench and by transformers' class (attention_types rewritten) and both hf backends
    decode as generate (hf_static refused: local blocks)."""
    pruned = without_blocks_1_and_2_is(
        family_model("gpt_neo"), "transformer.h",
        GPTNeoForCausalLM(small("gpt_neo", num_layers=2,
                                attention_types=[[["global", "local"], 1]])), tmp_path)
    assert pruned.config.attention_layers == ["global", "local"]


def test_gpt_neo_depth_pruning_keeps_each_blocks_kind_through_a_reload(tmp_path):
    """Block 1 (local) out: the kept blocks are global, global, local, which the saved
    config.json's attention_types says as GPTNeoConfig expands it, so transformers' reload
    computes the pruned model; the same blocks reloaded as the default alternation (global,
    local, global) compute another model: the kinds matter."""
    model = family_model("gpt_neo")
    pruned = remove_blocks(copy.deepcopy(model), [1])
    assert pruned.config.attention_layers == ["global", "global", "local"]
    assert [b.self_attn.layer_id for b in pruned.transformer.h] == [0, 1, 2]
    save_model(pruned, None, tmp_path / "pruned")
    raw = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert raw["num_layers"] == 3
    assert raw["attention_types"] == [[["global", "global", "local"], 1]]
    theirs = in_allocated_memory(GPTNeoForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    ours = load_model(tmp_path / "pruned")
    x = ids()
    mine = logits(pruned, x)
    torch.testing.assert_close(logits(theirs, x), mine, rtol=0, atol=1e-5)
    torch.testing.assert_close(logits(ours, x), mine, rtol=0, atol=1e-5)
    alternating = GPTNeoForCausalLM(small("gpt_neo", num_layers=3, attention_types=[
        [["global", "local", "global"], 1]])).eval()
    alternating.load_state_dict(pruned.state_dict())
    assert (logits(alternating, x) - mine).abs().max() > 1e-3


def _silenced(model, name: str, removed_heads: list[int]):
    """transformers' dense model of `model`'s weights with `removed_heads` of block 1 silenced
    (their output projection's columns zero)."""
    silenced = CLASSES[name](model.config).eval()
    silenced.load_state_dict(model.state_dict())
    out = silenced.get_submodule(f"{BLOCKS[name]}.1.{OUT[name]}")
    with torch.no_grad():
        for h in removed_heads:
            out.weight[:, h * HD:(h + 1) * HD] = 0
    return silenced


@pytest.mark.parametrize("name", ["persimmon", "gpt_neo"])
def test_head_removal_computes_the_dense_model_with_those_heads_silenced(name):
    """Heads 0 and 2 out of block 1 (each its own KV group): the pruned model computes
    transformers' dense model with those heads' output columns zero, and counts as its
    config says; Persimmon's kept heads keep their own q, k and v rows of query_key_value
    (head by head), so taking the rows as [all q; all k; all v] computes another model."""
    model = family_model(name)
    silenced = _silenced(model, name, [0, 2])
    packed = model.get_submodule(f"{BLOCKS[name]}.1.self_attn.query_key_value") if (
        name == "persimmon") else None
    before = None if packed is None else packed.weight.detach().clone()
    surgery.remove_kv_groups(model, 1, [0, 2])
    assert numel(model) == count_params(model.config)
    x = ids()
    mine = logits(model, x)
    torch.testing.assert_close(mine, logits(silenced, x), rtol=0, atol=1e-5)
    if packed is not None:
        rows_as_runs_compute_another(model, "model.layers.1.self_attn.query_key_value", before,
                                     x, mine)


def rows_as_runs_compute_another(model, packed: str, before, x, mine) -> None:
    """`model` (heads 0 and 2 of a block removed) given its packed q/k/v module's (`packed`,
    its name) rows of the kept heads 1 and 3 from `before` (the dense module's weight) taken
    as [all q; all k; all v] rather than head by head computes another model than `mine` (its
    logits of `x`) (also GPT-NeoX-Japanese's: tests/test_gpt_neox_japanese.py)."""
    runs = copy.deepcopy(model)
    rows = [r for part in range(3) for h in (1, 3)
            for r in range(part * HEADS * HD + h * HD, part * HEADS * HD + (h + 1) * HD)]
    with torch.no_grad():
        runs.get_submodule(packed).weight.copy_(before[rows])
    assert (logits(runs, x) - mine).abs().max() > 1e-3


@pytest.mark.parametrize("name", ["persimmon", "gpt_neo"])
def test_a_uniformly_mlp_pruned_model_is_transformers_model_of_its_width(name):
    up, down = MLP[name]
    check_a_uniformly_mlp_pruned_model(family_model(name), BLOCKS[name] + ".{}.mlp.", up, down,
                                       lambda width: CLASSES[name](
                                           small(name, intermediate_size=width)))


@pytest.mark.parametrize("name", ["persimmon", "gpt_neo"])
@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(name, fuse):
    decoder = decoder_gives_transformers_logits(width_pruned(family_model(name)), fuse)
    if name == "gpt_neo":  # the local blocks' window, unscaled float32 scores, eager
        assert decoder.windows == [None, 5, None, 5] and decoder.attention == "eager"
        assert all(b.scale == 1.0 and b.scores_float32 for b in decoder.blocks if b.n_q)


@pytest.mark.parametrize("name", ["persimmon", "gpt_neo"])
def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does(name):
    decodes_as_generate_does(width_pruned(family_model(name)))


def _qk_norm_biases_zero(model):
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_layernorm.bias.zero_()
            layer.self_attn.k_layernorm.bias.zero_()


@pytest.mark.parametrize("change", [_qk_norm_biases_zero, without_norm_biases,
                                    _whole_heads_rotating])
def test_the_decoder_follows_each_of_persimmons_pieces(change):
    """Persimmon's q/k LayerNorms' biases, every LayerNorm's bias and the half of each head
    that rotates each change its logits, and the decoder built from the changed copy follows."""
    decoder_follows_the_change(family_model("persimmon"), change)


def test_gpt_neos_windows_and_unscaled_scores_matter_to_the_decoder():
    """The decoder computes GPT-Neo's logits; without its local blocks' windows, or with its
    scores scaled by 1 / sqrt(head_dim) as every other family's, it computes another model:
    the agreement above is a real check of each."""
    model = family_model("gpt_neo")
    prompt = ids(2, 12, seed=6)
    theirs = logits(model, prompt)[:, -1]
    decoder = StaticDecoder(model, 2, 14, mode="eager")
    torch.testing.assert_close(decoder.prefill_logits(prompt), theirs, rtol=0, atol=1e-5)
    unbanded = StaticDecoder(model, 2, 14, mode="eager")
    unbanded.windows = [None] * 4
    assert (unbanded.prefill_logits(prompt) - theirs).abs().max() > 1e-3
    scaled = StaticDecoder(model, 2, 14, mode="eager")
    for block in scaled.blocks:
        block.scale, block.scores_float32 = HD ** -0.5, False
    assert (scaled.prefill_logits(prompt) - theirs).abs().max() > 1e-3


def test_gpt_neos_windows_are_its_local_blocks():
    config = small("gpt_neo", num_layers=3, attention_types=[[["local", "global", "local"], 1]],
                   window_size=7)
    assert sliding_windows(config) == [7, None, 7]
    assert sliding_windows(config_from_dict(json.loads(config.to_json_string()))) == [7, None, 7]
    assert sliding_windows(config_from_dict({"model_type": "gpt_neo"})) == [None, 256] * 12


def test_transformers_static_cache_bands_gpt_neos_local_blocks_elsewhere():
    """Why hf_static is refused for GPT-Neo with local blocks: transformers' own generate with
    a static cache computes other logits than with its dynamic cache (its band taken at the
    cache's length), while a model of global blocks alone decodes alike and is not refused."""
    def logits_of_generate(model, **kw):
        prompt = ids(1, 8, seed=4)
        with torch.inference_mode():
            out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt),
                                 max_new_tokens=8, min_new_tokens=8, do_sample=False,
                                 pad_token_id=0, output_logits=True,
                                 return_dict_in_generate=True, **kw)
        return torch.stack(out.logits)

    model = family_model("gpt_neo")
    assert (logits_of_generate(model, cache_implementation="static")
            - logits_of_generate(model)).abs().max() > 1e-3
    with pytest.raises(PrunebenchError, match="hf_static backend cannot run a GPT-Neo"):
        bench.HFStaticRunner(model, 4)
    everywhere = family_model("gpt_neo", attention_types=[[["global"], 4]],
                              attention_layers=["global"] * 4)
    torch.testing.assert_close(logits_of_generate(everywhere, cache_implementation="static"),
                               logits_of_generate(everywhere), rtol=0, atol=1e-5)
    bench.HFStaticRunner(everywhere, 4)  # not refused


def _gpt_neo_folder(tmp_path, **values):
    folder = tmp_path / "neo"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**small("gpt_neo").to_dict(), **values}))
    return folder


def test_the_start_refuses_sdpa_and_hf_static_for_gpt_neo(tmp_path):
    """SDPA (no SDPA kernel takes float32 unscaled scores) and hf_static (local blocks) are
    refused at the start for a local GPT-Neo config.json, naming what to set; auto picks
    eager; the benchmark refuses SDPA too."""
    folder = _gpt_neo_folder(tmp_path)
    config = {"models": {"neo": {"source": f"local:{folder}"}},
              "benchmark": {"attention": "sdpa", "backends": ["hf", "hf_static"]}}
    [problem] = softcap_attention_problems(config, tmp_path)
    assert "float32" in problem and "eager" in problem
    [problem] = static_cache_problems(config, tmp_path)
    assert "hf_static" in problem and "models.neo" in problem
    model = family_model("gpt_neo")
    assert resolve_attention("auto", torch.device("cpu"), model) == "eager"
    with pytest.raises(PrunebenchError, match="float32 and unscaled.*eager"):
        check_softcap_attention(model, "sdpa")
    check_softcap_attention(model, "eager")
    with pytest.raises(PrunebenchError, match="float32 and unscaled"):
        StaticDecoder(model, 1, 8, mode="eager", attention="sdpa")


@pytest.mark.parametrize("types,match", [([[["global", "local"], 3]], "each of its 4 blocks"),
                                         ([[["global", "sparse"], 2]], "'sparse'")])
def test_gpt_neo_attention_types_its_class_cannot_build_are_refused(tmp_path, types, match):
    """attention_types that do not give each block one kind, or a kind other than global /
    local, are refused as config.json is read and as a model is built, naming the key."""
    folder = _gpt_neo_folder(tmp_path, attention_types=types)
    with pytest.raises(FamilyUnsupported, match=match):
        checked_config_json(folder)
    config = small("gpt_neo")
    config.attention_types = types
    with pytest.raises(FamilyUnsupported, match=match):
        build_model(config, device="meta")


@pytest.mark.parametrize("name", ["persimmon", "gpt_neo"])
def test_dropout_is_off_in_the_passes_that_run_in_training_mode(name):
    """Persimmon's attention_dropout (read from its config) and hidden_dropout, GPT-Neo's
    attention, residual and embedding dropout (nn.Dropout modules) act in training mode, which
    modeling.base_dropout_off turns off as for every family."""
    rates = ({"attention_dropout": 0.3, "hidden_dropout": 0.3} if name == "persimmon" else
             {"attention_dropout": 0.3, "resid_dropout": 0.3, "embed_dropout": 0.3})
    model = family_model(name, **rates)
    with dropout_turned_off(model, family_model(name)):
        pass


def test_gpt_neo_125ms_known_shape_counts_by_hand_and_builds_its_family():
    """gpt-neo-125m's count written out by hand: tied embeddings of 50257 and 2048 positions,
    12 blocks of q/k/v without biases, a biased out_proj, an MLP of 4 x 768 with biases and two
    LayerNorms, the final LayerNorm; its config.json's twelve blocks global and local in turn."""
    from prunebench.checkpoint.architectures import ARCHITECTURES, architecture_config
    from test_families import PUBLISHED

    d, m = 768, 4 * 768
    block = 4 * d * d + d + 2 * d * m + m + d + 2 * 2 * d
    assert 50257 * d + 2048 * d + 12 * block + 2 * d == PUBLISHED["gpt-neo-125m"]
    config = architecture_config("gpt-neo-125m")
    assert type(config).__name__ == "GPTNeoConfig"
    assert config.attention_layers == ["global", "local"] * 6
    assert sliding_windows(config_from_dict(ARCHITECTURES["gpt-neo-125m"])) == [None, 256] * 6
