"""Doge (doge, DogeForCausalLM; SmallDoge's dense models): the pieces of its own. A depth-only
dense family (Family.depth_only).

DogeAttention is Qwen3's (q_norm / k_norm before the rotation) with a dynamic mask: A (one
value a KV head) and dt_proj score each key from its values, exp(A softplus(dt_proj(v))),
added to every query's scores of that key, and where a query sees more than keep_window_size
keys only the best-scored ones are kept. Each block scales its two residuals by a learned
vector (input_residual, post_attention_residual). These hold no head or channel a width rule
could remove on its own: dt_proj reads every value channel of a KV head at once, and the
residual vectors weigh every hidden channel.

Its Cross Domain MoE (is_moe) is refused: transformers 5.17 stops on its output tuple, and
5.25's router mixes the batch's tokens (not causal). transformers 5.17's SDPA attention drops
Doge's causal mask (fixed in 5.18): prunebench builds it with eager attention there and the
benchmarks refuse SDPA for it.

Checked here: counts against transformers' meta models and by hand; a checkpoint transformers
saved, imported and loaded with transformers' logits; depth pruning equal to transformers'
model of the kept blocks, reloaded, the hf backends decoding as generate; the dynamic mask's
window and A shown to matter; the refusals (MoE Doge when read and built, with transformers'
reasons shown; SDPA on 5.17; width methods before scoring, width surgery, the compiled decoder
and the start's check). tests/test_families.py runs the shared per-family tests on the tiny
config."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import transformers
from packaging.version import Version
from transformers import DogeConfig, DogeForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.benchmark.attention import resolve_attention, set_hf_attention
from prunebench.checkpoint import param_count
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               count_params, layer_shapes, own_block_params)
from prunebench.methods.registry import method_function
from prunebench.modeling import build_model
from test_dbrx import check_a_transformers_checkpoint_imports
from test_families import FAMILIES, SMALL, family_config, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_helium_vaultgemma_granitemoeshared import check_counts
from test_hyperclovax_minicpm3 import check_surgery_and_the_compiled_decoder_refuse
from test_opt import check_depth_prune_is_transformers_model

pytestmark = pytest.mark.usefixtures("one_thread")

OLD_SDPA = Version(transformers.__version__) < Version(param_count.DOGE_SDPA_CAUSAL)
OWN = "a dynamic attention mask"


def config(**changes) -> DogeConfig:
    return family_config("doge", **changes)


@pytest.fixture
def transformers_doge(monkeypatch):
    """transformers' DogeForCausalLM, eager where its SDPA attention is not causal
    (transformers 5.17: told it has no SDPA path, as prunebench builds it there)."""
    if OLD_SDPA:
        monkeypatch.setattr(DogeForCausalLM, "_supports_sdpa", False)
    return DogeForCausalLM


def with_scored_keys(model):
    """`model` with A and dt_proj's weights of std 1, so that the dynamic mask's scores
    differ by key and head."""
    torch.manual_seed(1)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.A.normal_()
            layer.self_attn.dt_proj.weight.normal_()
    return model


@pytest.fixture(scope="module")
def passing_blocks():
    """The tiny Doge model with blocks 1 and 2 passing their input on unchanged (o_proj,
    down_proj and their biases zero, both residual vectors one): removing either leaves the
    same model, so every score that compares models or states ties them exactly."""
    model = family_model("doge")
    with torch.no_grad():
        for block in (1, 2):
            layer = model.model.layers[block]
            for linear in (layer.self_attn.o_proj, layer.mlp.down_proj):
                linear.weight.zero_()
                linear.bias.zero_()
            layer.input_residual.fill_(1.0)
            layer.post_attention_residual.fill_(1.0)
    return model


@pytest.mark.parametrize("method", ["depth_ppl", "shortgpt", "sleb", "depth_angular"])
def test_the_depth_criteria_break_exact_ties_by_the_lower_block(passing_blocks, method):
    """Blocks 1 and 2 score exactly alike (the model without either is the same; each maps its
    input onto itself), the others protected, and one block goes: each criterion removes
    block 1, the lower number
    (prune_one_shot's and SLEB's ranking by (score, block), depth_angular's runs by (distance,
    start)), whatever the machine: the choice depends on the scores alone, never on an order
    of iteration or of floating-point noise, and the report's cut shows the tie (gap 0). The
    12-token windows are within keep_window_size 16: the window's own ties (its top-k, whose
    order among equal keys depends on the device) do not enter."""
    model = copy.deepcopy(passing_blocks)
    target = count_params(model.config) - block_param_count(model.config,
                                                            layer_shapes(model.config)[1])
    report = method_function(method)(model, ids(2, 12), target, protect_first=1,
                                      protect_last=1)  # (the two tied blocks removable)
    assert report["removed_blocks"] == [1]
    if method == "sleb":
        tied = report["rounds"][0]["candidate_nll"]
        assert tied.keys() == {"1", "2"} and tied["1"] == tied["2"]
    elif method == "depth_angular":
        distances = report["start_distances"]
        assert distances[1] == distances[2] and report["ranking"] == [1, 2]
        assert report["cut"]["relative_gap"] == 0
    else:
        scores = report["block_scores"]
        assert scores[1] == scores[2] and report["ranking"] == [1, 2]
        assert report["cut"] == {"last_removed": 1, "first_kept": 2, "relative_gap": 0.0}


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [{}, {"attention_bias": True, "mlp_bias": True},
                                    {"tie_word_embeddings": True}])
def test_counts_equal_transformers_parameters(values):
    check_counts("doge", values)


def test_its_own_pieces_counted_by_hand():
    """The tiny config's pieces beyond LLaMA's block (hidden 64, heads of 16, 2 KV heads, MLP
    of 128, biases on): A (2), dt_proj (32 -> 2, biased) and the two residual vectors."""
    assert own_block_params(config()) == 2 + (32 * 2 + 2) + 2 * 64
    assert own_block_params(config(attention_bias=False)) == 2 + 32 * 2 + 2 * 64
    llama_block = (64 * 64 + 64) * 2 + (64 * 32 + 32) * 2 + 3 * 64 * 128 + 2 * 128 + 64
    doge = config()
    # (+ q_norm and k_norm, head_dim each, and the block's two norms)
    assert block_param_count(doge, layer_shapes(doge)[0]) == (
        llama_block + 2 * 16 + 2 * 64 + own_block_params(doge))


# --------------------------------------------------------------------------- import, depth

def test_a_checkpoint_transformers_saved_imports_and_computes_transformers_logits(
        tmp_path, tokenizer, transformers_doge):  # noqa: F811
    check_a_transformers_checkpoint_imports(transformers_doge, config(), tokenizer, tmp_path)


@pytest.mark.parametrize("drop", [[0], [1, 2]])
def test_depth_pruning_is_transformers_model_of_the_kept_blocks(drop, tmp_path,
                                                               transformers_doge):
    """Doge's blocks hold nothing their index decides (A, dt_proj and the residual vectors go
    with their block): a depth-pruned model is transformers' model of the kept blocks,
    reloaded by prunebench and by transformers, the hf backends decoding as generate."""
    check_depth_prune_is_transformers_model(
        with_scored_keys(family_model("doge")), drop, "model.layers.", transformers_doge,
        lambda n: config(num_hidden_layers=n), tmp_path)


def test_the_dynamic_masks_scores_and_window_matter():
    """The tiny model's logits depend on A (exp(A softplus(dt)) added to each key's scores;
    with A zero every key gets the same 1) and on keep_window_size (8 keys a query kept of
    the 16 here, or all 16): a model computing LLaMA's attention with q/k norms would differ."""
    model = with_scored_keys(family_model("doge"))
    x = ids(1, 16)
    whole_window = logits(model, x)
    for layer in model.model.layers:
        layer.self_attn.keep_window_size = 8
    scored = logits(model, x)
    assert (scored - whole_window).abs().max() > 1e-3
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.A.zero_()
            layer.self_attn.keep_window_size = 16
    assert (logits(model, x) - whole_window).abs().max() > 1e-3


# --------------------------------------------------------------------------- MoE Doge

def test_moe_doge_is_refused_when_read_and_built(tmp_path):
    moe = config(is_moe=True, num_experts=16, num_experts_per_tok=4)
    moe.save_pretrained(tmp_path)
    with pytest.raises(PrunebenchError, match="is_moe=true for a Doge model.*not causal"):
        checked_config_json(tmp_path)
    with pytest.raises(FamilyUnsupported, match="is_moe=true.*dense Doge"):
        build_model(moe)
    assert param_count.unreproduced_layout({**moe.to_dict(), "is_moe": False}) is None


def test_transformers_moe_doge_is_not_what_its_config_says():
    """Why MoE Doge is refused: transformers 5.17's decoder layer stops on DogeCDMoE's output
    tuple; later releases route each token by logits split over the batch's tokens, so the
    first row's logits change when only the second row's tokens do."""
    torch.manual_seed(0)
    model = DogeForCausalLM(config(is_moe=True, num_experts=16, num_experts_per_tok=4)).eval()
    x = ids(2, 8)
    if OLD_SDPA:
        with pytest.raises(TypeError, match="tuple"):
            logits(model, x)
        return
    other = x.clone()
    other[1] = (other[1] + 1) % SMALL["vocab_size"]
    assert (logits(model, x)[0] - logits(model, other)[0]).abs().max() > 1e-4


# --------------------------------------------------------------------------- SDPA on 5.17

def test_transformers_5_17s_sdpa_attention_is_not_causal_so_eager_runs_it():
    """On transformers 5.17, DogeForCausalLM with SDPA attention lets the last token change
    the earlier tokens' logits (its causal mask skipped); prunebench builds it with eager
    attention there, which is causal, and 'auto' picks eager for its benchmarks while 'sdpa'
    is refused. On later releases SDPA is causal, kept, and computes eager's logits."""
    x = ids(1, 12)
    changed = x.clone()
    changed[0, -1] = (changed[0, -1] + 1) % SMALL["vocab_size"]
    torch.manual_seed(0)
    sdpa = with_scored_keys(DogeForCausalLM(config(_attn_implementation="sdpa")).eval())
    leaks = (logits(sdpa, x)[0, :-1] - logits(sdpa, changed)[0, :-1]).abs().max() > 1e-5
    assert bool(leaks) == OLD_SDPA
    model = with_scored_keys(family_model("doge"))
    built = logits(model, x)
    assert torch.equal(built[0, :-1], logits(model, changed)[0, :-1])
    assert model.config._attn_implementation == ("eager" if OLD_SDPA else "sdpa")
    assert resolve_attention("auto", torch.device("cpu"), model) == (
        "eager" if OLD_SDPA else "sdpa")
    if OLD_SDPA:
        with pytest.raises(PrunebenchError, match="without its causal mask.*eager"):
            set_hf_attention(model, "sdpa")
    else:
        assert set_hf_attention(model, "sdpa") == "sdpa"
        torch.testing.assert_close(logits(model, x), built, rtol=0, atol=1e-5)


def test_an_older_transformers_is_told_to_use_eager(monkeypatch):
    """The release check itself (faked older on later releases)."""
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.17.0")
    model = family_model("doge")
    assert model.config._attn_implementation == "eager"
    assert resolve_attention("auto", torch.device("cpu"), model) == "eager"
    with pytest.raises(PrunebenchError, match="5.17's DogeModel.*upgrade transformers to 5.18"):
        set_hf_attention(model, "sdpa")
    assert not param_count.sdpa_not_causal(FAMILIES["bitnet"]())


def test_the_start_refuses_sdpa_for_it_on_an_older_transformers(tmp_path, monkeypatch):
    from prunebench.plan.checks import softcap_attention_problems

    config().save_pretrained(tmp_path / "doge")
    runs = {"models": {"doge": {"source": f"local:{tmp_path / 'doge'}", "variants": ["dense"]}},
            "benchmark": {"attention": "sdpa"}}
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.18.0")
    assert softcap_attention_problems(runs, tmp_path / "nowhere") == []
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.17.0")
    problems = softcap_attention_problems(runs, tmp_path / "nowhere")
    assert len(problems) == 1
    assert "model doge (doge) runs without its causal mask" in problems[0]
    assert softcap_attention_problems({**runs, "benchmark": {"attention": "auto"}},
                                      tmp_path / "nowhere") == []


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("method", ["flap", "llm_pruner", "wanda_sp", "blockpruner"])
def test_the_width_methods_refuse_it_before_scoring(method):
    model = family_model("doge")
    with pytest.raises(FamilyUnsupported, match=f"{method}.*{OWN}.*depth method.*hf_static"):
        method_function(method)(model, ids(8, 24, seed=3), int(0.8 * numel(model)))
    assert numel(model) == count_params(model.config)  # nothing cut


def test_width_surgery_and_the_compiled_decoder_refuse_it():
    check_surgery_and_the_compiled_decoder_refuse(family_model("doge"), OWN)


def check_the_start_refuses_the_compiled_backend(config, own: str, folder) -> None:
    """A depth-only model of `config` whose config.json the start reads (a local `folder`)
    is told of the compiled backend there, naming `own` (what its blocks hold), not by its
    benchmark job."""
    from prunebench.plan.checks import moe_problems

    config.save_pretrained(folder)
    runs = {"models": {"m": {"source": f"local:{folder}", "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problems = moe_problems(runs, folder / "nowhere")
    assert len(problems) == 1
    assert problems[0].startswith(f"models.m ({config.model_type}) holds {own}")


def test_the_start_refuses_the_compiled_backend_for_it(tmp_path):
    check_the_start_refuses_the_compiled_backend(config(), OWN, tmp_path / "doge")
    assert json.loads((tmp_path / "doge" / "config.json").read_text())["is_moe"] is False
