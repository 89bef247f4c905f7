"""LLM-Pruner, FLAP and Wanda-sp: selection, sizes, bias compensation, bad input, quality."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from prunebench.evaluate import perplexity
from prunebench import PrunebenchError, data, flap, llm_pruner, modeling, surgery, tiny, wanda_sp
from prunebench.architectures import architecture_config
from prunebench.sizes import format_params

METHODS = {"llm_pruner": llm_pruner, "flap": flap, "wanda_sp": wanda_sp}


def numel(model) -> int:
    return sum(p.numel() for p in model.parameters())


def calib(vocab: int, n: int = 8, length: int = 24, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, vocab, (n, length), generator=g)


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False).logits


# --------------------------------------------------------------------------- sizes

def test_llm_pruner_original_setting_on_llama_7b_shapes_gives_5_42b():
    config = architecture_config("llama-7b")
    assert modeling.count_params(config) == 6_738_415_616
    shapes = llm_pruner.pruned_layer_shapes(config, 0.25, 4, 30)
    assert [s["num_attention_heads"] for s in shapes] == [32] * 4 + [24] * 26 + [32] * 2
    assert [s["intermediate_size"] for s in shapes] == [11008] * 4 + [8256] * 26 + [11008] * 2
    count = llm_pruner.pruned_param_count(config, 0.25, 4, 30)
    assert count == modeling.count_params_meta(surgery.config_with_shapes(config, shapes))
    assert format_params(count) == "5.42B"
    # The default block range for 32 blocks is the original's 4..29.
    assert llm_pruner.pruned_param_count(config, 0.25) == count


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("frac", [0.9, 0.7])
def test_pruned_model_lands_within_one_percent(small_random_model, name, frac):
    model = small_random_model(seed=3)
    target = int(modeling.count_params(model.config) * frac)
    report = METHODS[name].prune(model, calib(128), target)
    assert abs(numel(model) - target) <= 0.01 * target
    assert report["params_after"] == numel(model) == modeling.count_params(model.config)


def test_gqa_models_prune_whole_kv_groups(small_random_model):
    for name, module in METHODS.items():
        model = small_random_model(seed=1, num_attention_heads=4, num_key_value_heads=2)
        target = int(modeling.count_params(model.config) * 0.75)
        module.prune(model, calib(128), target)
        for s in model.config.layer_shapes:
            assert s["num_attention_heads"] == 2 * s["num_key_value_heads"], name
        assert abs(numel(model) - target) <= 0.01 * target, name
        assert torch.isfinite(logits(model, calib(128, 2))).all()


# --------------------------------------------------------------------------- selection

def test_llm_pruner_scores_equal_direct_w_times_grad(small_random_model):
    model = small_random_model(seed=2).double()
    x = calib(128, n=4, length=16)
    blocks = [1, 2]
    scores = llm_pruner.taylor_scores(model, x, blocks)
    ref = copy.deepcopy(model)
    ref(input_ids=x, labels=x).loss.backward()
    hd = 16
    for b in blocks:
        attn, mlp = ref.model.layers[b].self_attn, ref.model.layers[b].mlp
        s = {n: (m.weight * m.weight.grad).abs() for n, m in
             [("q", attn.q_proj), ("k", attn.k_proj), ("v", attn.v_proj), ("o", attn.o_proj),
              ("g", mlp.gate_proj), ("u", mlp.up_proj), ("d", mlp.down_proj)]}
        for h in range(4):
            rows = slice(h * hd, (h + 1) * hd)
            direct = s["q"][rows].sum() + s["k"][rows].sum() + s["v"][rows].sum() + s["o"][:, rows].sum()
            torch.testing.assert_close(scores[b]["groups"][h], direct.detach().float(), rtol=1e-5, atol=0)
        direct_ch = s["g"].sum(1) + s["u"].sum(1) + s["d"].sum(0)
        torch.testing.assert_close(scores[b]["channels"], direct_ch.detach().float(), rtol=1e-5, atol=0)


def test_llm_pruner_holds_one_gradient_at_a_time(small_random_model, monkeypatch):
    """Each weight's gradient is reduced and freed as soon as it is final, so a 13B model in
    fp32 needs its weights plus one weight's gradient, not twice its weights."""
    model = small_random_model(seed=2)
    blocks = [0, 1, 2, 3]
    weights = [w for b in blocks for w in llm_pruner._prunable_weights(model.model.layers[b]).values()]
    live = []
    real = llm_pruner._salience

    def counting(w, g, fisher, taylor):
        live.append(sum(p.grad is not None for p in weights))
        return real(w, g, fisher, taylor)

    monkeypatch.setattr(llm_pruner, "_salience", counting)
    llm_pruner.taylor_scores(model, calib(128, n=4, length=16), blocks)
    assert len(live) == len(weights) and max(live) == 1
    assert all(p.grad is None for p in model.parameters())


def make_useless(model, head: int, channel: int, blocks):
    """Zero what a head / MLP channel writes: it contributes nothing to the output."""
    hd = modeling.head_dim(model.config)
    with torch.no_grad():
        for b in blocks:
            model.model.layers[b].self_attn.o_proj.weight[:, head * hd:(head + 1) * hd] = 0
            model.model.layers[b].mlp.down_proj.weight[:, channel] = 0


@pytest.mark.parametrize("name", list(METHODS))
def test_useless_head_and_channel_are_removed_first(small_random_model, name):
    model = small_random_model(seed=5)
    blocks = range(model.config.num_hidden_layers)
    make_useless(model, head=2, channel=7, blocks=blocks)
    # One head (of 4) and a quarter of the channels per block for the uniform methods.
    target = llm_pruner.pruned_param_count(model.config, 0.25, 0, 4)
    params = {"block_start": 0, "block_end": 4} if name == "llm_pruner" else {}
    if name == "flap":
        params = {"structure": "UL-UM", "bias_compensation": False}
    report = METHODS[name].prune(model, calib(128), target, **params)
    for b, entry in enumerate(report["blocks"]):
        kept = entry.get("kept_heads")
        if kept is not None:
            assert 2 not in kept, (name, b, kept)
        else:
            assert 2 in entry["removed_heads"], (name, b)
    # The zeroed channel is gone: no remaining down_proj column is all zeros.
    for layer in model.model.layers:
        assert (layer.mlp.down_proj.weight.abs().sum(0) > 0).all(), name


def test_flap_al_am_removes_useless_head_and_channel(small_random_model):
    model = small_random_model(seed=5)
    make_useless(model, head=2, channel=7, blocks=[1])
    target = int(modeling.count_params(model.config) * 0.85)
    report = flap.prune(model, calib(128), target)
    assert 2 not in report["blocks"][1]["kept_heads"]
    assert (model.model.layers[1].mlp.down_proj.weight.abs().sum(0) > 0).all()


# --------------------------------------------------------------------------- FLAP bias compensation

def constant_input_model(small_random_model):
    """Head 0 and MLP channels 0..3 of every block receive a constant input (bias only)."""
    model = small_random_model(seed=7, intermediate_size=16, attention_bias=True,
                               mlp_bias=True).double()
    hd = modeling.head_dim(model.config)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer in model.model.layers:
            v = layer.self_attn.v_proj  # V = its bias: attention averages a constant
            v.weight[:hd] = 0
            v.bias[:hd] = torch.randn(hd, generator=g, dtype=torch.float64)
            for proj in (layer.mlp.gate_proj, layer.mlp.up_proj):  # silu(b_g) * b_u
                proj.weight[:4] = 0
                proj.bias[:4] = torch.randn(4, generator=g, dtype=torch.float64) + 2
    return model


def test_flap_bias_compensation_is_exact_for_constant_inputs(small_random_model):
    dense = constant_input_model(small_random_model)
    # UL-UM at p=0.25: int(0.25 * 4) = 1 head and int(16 * 0.25) = 4 channels per block,
    # exactly the constant ones (zero variance, so the lowest WIFV).
    shapes = surgery.uniform_shapes(dense.config, range(4), 0.25, lambda n, p: int(p * n),
                                    lambda n, p: int(n * p), biases=True)
    target = modeling.count_params(surgery.config_with_shapes(dense.config, shapes))
    x, test = calib(128, n=6, length=20), calib(128, n=3, length=20, seed=9)
    outputs = {}
    for comp in (True, False):
        model = copy.deepcopy(dense)
        report = flap.prune(model, x, target, structure="UL-UM", bias_compensation=comp)
        assert report["params_after"] == target or not comp
        assert all(b["kept_heads"] == [1, 2, 3] for b in report["blocks"])
        outputs[comp] = logits(model, test)
    reference = logits(dense, test)
    torch.testing.assert_close(outputs[True], reference, rtol=0, atol=1e-8)
    assert (outputs[False] - reference).abs().max() > 1e-3  # without it, outputs move


def test_flap_bias_compensation_helps_al_am(small_random_model):
    dense = constant_input_model(small_random_model)
    x, test = calib(128, n=6, length=20), calib(128, n=3, length=20, seed=9)
    target = int(modeling.count_params(dense.config) * 0.8)
    err = {}
    for comp in (True, False):
        model = copy.deepcopy(dense)
        flap.prune(model, x, target, bias_compensation=comp)
        err[comp] = (logits(model, test) - logits(dense, test)).pow(2).mean().item()
    assert err[True] < err[False]


# --------------------------------------------------------------------------- bad input

def state_of(model):
    return {k: v.clone() for k, v in model.state_dict().items()}, copy.deepcopy(
        getattr(model.config, "layer_shapes", None))


@pytest.mark.parametrize("name, target_frac, params, match", [
    ("llm_pruner", 0.01, {}, "unreachable"),
    ("flap", 0.01, {}, "unreachable"),
    ("flap", 0.01, {"structure": "UL-UM"}, "unreachable"),
    ("wanda_sp", 0.01, {}, "unreachable"),
    ("llm_pruner", 0.8, {"block_start": 2, "block_end": 9}, "out of bounds"),
    ("llm_pruner", 0.8, {"block_start": 3, "block_end": 3}, "out of bounds"),
    ("llm_pruner", 0.8, {"taylor": "param_third"}, "unknown taylor"),
    ("llm_pruner", 0.8, {"ratio": 1.5}, "ratio"),
    ("flap", 0.8, {"structure": "AL-XX"}, "unknown structure"),
    ("flap", 0.8, {"metric": "norm"}, "unknown metric"),
    ("wanda_sp", 0.8, {"sparsity": 0.5}, "unknown parameter"),
    # a uniform ratio over one block cannot take 30% of the model away
    ("llm_pruner", 0.7, {"block_start": 0, "block_end": 1}, "unreachable"),
])
def test_bad_input_raises_and_leaves_model_unchanged(small_random_model, name, target_frac,
                                                     params, match):
    model = small_random_model(seed=4)
    before, shapes = state_of(model)
    target = int(modeling.count_params(model.config) * target_frac)
    with pytest.raises(PrunebenchError, match=match):
        METHODS[name].prune(model, calib(128), target, **params)
    after, shapes_after = state_of(model)
    assert shapes_after == shapes
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


# --------------------------------------------------------------------------- the trained tiny model

@pytest.fixture(scope="module")
def trained(tiny_model_dir, embedded_corpus):
    tokenizer = modeling.load_tokenizer(tiny_model_dir)
    rows = [r for r in (embedded_corpus / "train.txt").read_text().splitlines() if r.strip()]
    calibration = data.calibration_windows(rows, tokenizer, n=32, length=64, seed=1234)
    stream = tiny.encode_text(tokenizer, (embedded_corpus / "validation.txt").read_text())
    dense = modeling.load_model(tiny_model_dir)
    dense_ppl = perplexity(dense, stream, window=128, max_windows=24)["perplexity"]
    return {"dir": tiny_model_dir, "calibration": calibration, "stream": stream,
            "dense_ppl": dense_ppl, "dense_params": modeling.count_params(dense.config)}


def prune_trained(trained, name, **params):
    model = modeling.load_model(trained["dir"])
    target = int(trained["dense_params"] * 0.8)
    report = METHODS[name].prune(model, trained["calibration"], target, **params)
    assert abs(numel(model) - target) <= 0.01 * target
    assert report["params_after"] == numel(model)
    return model, perplexity(model, trained["stream"], window=128, max_windows=24)["perplexity"]


def test_tiny_model_quality_sanity(trained):
    ppl = {}
    for name in METHODS:
        _model, ppl[name] = prune_trained(trained, name)
        assert math.isfinite(ppl[name]) and ppl[name] > trained["dense_ppl"], (name, ppl)
    _model, no_comp = prune_trained(trained, "flap", bias_compensation=False)
    assert ppl["flap"] < no_comp, (ppl["flap"], no_comp)


def test_pruned_tiny_model_round_trips(trained, tmp_path):
    model, _ = prune_trained(trained, "flap")
    ids = trained["calibration"][:2]
    modeling.save_model(model, modeling.load_tokenizer(trained["dir"]), tmp_path / "pruned")
    loaded = modeling.load_model(tmp_path / "pruned")
    assert torch.equal(logits(loaded, ids), logits(model, ids))
