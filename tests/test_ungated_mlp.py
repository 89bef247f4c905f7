"""MLPs without a gate (`Family.ungated_mlp`: `down_proj(act(up_proj(x)))`), on the two families
that have one, Arcee (arcee, ArceeForCausalLM; AFM-4.5B) and Nemotron (nemotron,
NemotronForCausalLM; Minitron, Nemotron-Mini): exact counts over the bias options against
transformers' own classes and config.json alone, and by hand (a channel is 2 x hidden weights
and its up_proj bias); channel removal slicing up_proj's rows and bias entries and down_proj's
columns, through a save and a reload; each width method's pruned model computing the logits of
transformers' model with the sliced weights (Wanda-sp's, uniform, rebuilt by transformers at
its pruned shape); LLM-Pruner's channel score without a gate term; FLAP's compensation; the
compiled decoder against transformers on dense and width-pruned models, fused and not, with
relu2 between up_proj and down_proj; LoRA's default targets adapting up_proj and down_proj and
merging, gate_proj refused in a shorter list (in the job and at the workflow's start). The
Nemotron-specific pieces are in tests/test_nemotron.py; tests/test_families.py runs the shared
per-family tests on both (every method, save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json

import pytest
import torch
import transformers
from transformers import ArceeConfig, NemotronConfig

from prunebench import PrunebenchError, lora, projections
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint import param_count
from prunebench.checkpoint.param_count import config_from_dict, mlp_input_projections
from prunebench.methods import llm_pruner, surgery
from prunebench.methods.registry import method_function
from prunebench.modeling import (ZeroHeadAttention, build_model, count_params, count_params_meta,
                                 head_dim)
from prunebench.plan.lora_settings import DEFAULTS as LORA_DEFAULTS
from test_cohere import (decoder_gives_transformers_logits, decodes_as_generate_does,
                         reloads_with_its_logits)
from test_families import family_model, ids, logits, numel

pytestmark = pytest.mark.usefixtures("one_thread")

UNGATED = ("arcee", "nemotron")
CONFIGS = {"arcee": ArceeConfig, "nemotron": NemotronConfig}
# 6 query heads of 16 on 2 KV heads, head_dim set apart (6 x 16 = 96 against hidden 48; the
# hidden size a multiple of the heads all the same, which ArceeConfig requires).
SHAPE = dict(vocab_size=97, hidden_size=48, intermediate_size=56, num_hidden_layers=3,
             num_attention_heads=6, num_key_value_heads=2, head_dim=16)


@pytest.mark.parametrize("name", UNGATED)
@pytest.mark.parametrize("attention_bias,mlp_bias,tied",
                         list(itertools.product([False, True], repeat=3)))
def test_counts_equal_transformers_parameters(name, attention_bias, mlp_bias, tied):
    config = CONFIGS[name](**SHAPE, attention_bias=attention_bias, mlp_bias=mlp_bias,
                           tie_word_embeddings=tied)
    model = getattr(transformers, type(config).__name__.replace("Config", "ForCausalLM"))(config)
    mlp = model.model.layers[0].mlp
    assert not hasattr(mlp, "gate_proj") and projections.mlp_inputs(mlp) == ("up_proj",)
    assert (mlp.up_proj.bias is not None) == (mlp.down_proj.bias is not None) == mlp_bias
    assert mlp_input_projections(config) == 1
    assert count_params(config) == count_params_meta(config) == numel(model)
    # and without transformers, from its config.json's values (`prunebench plan`)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


@pytest.mark.parametrize("name", UNGATED)
def test_the_count_by_hand(name):
    """Both families' blocks written out: q, k, v, o (biases on all four: NemotronAttention's,
    ArceeAttention's LLaMA ones), up and down with their biases (no gate), and two norms:
    Arcee's RMSNorm weights, Nemotron's LayerNorm weights and biases."""
    config = CONFIGS[name](**SHAPE, attention_bias=True, mlp_bias=True)
    d, m, q, kv = 48, 56, 6 * 16, 2 * 16
    attention = d * q + 2 * d * kv + q * d + (q + 2 * kv + d)
    mlp = d * m + m * d + (m + d)
    norm = d * (2 if name == "nemotron" else 1)
    block = attention + mlp + 2 * norm
    total = 3 * block + 2 * 97 * d + norm  # untied embeddings and head, the final norm
    assert count_params(config) == total == count_params_meta(config)


@pytest.mark.parametrize("name,flag,built", [("arcee", False, "without a gate"),
                                              ("llama", True, "with a gate")])
def test_a_model_whose_mlp_disagrees_with_its_familys_gate_flag_is_refused(name, flag, built,
                                                                          monkeypatch):
    """Family.ungated_mlp decides the counts, the sizing and the LoRA settings from a config
    alone; the surgery, the methods and the decoder read the modules. A family whose flag is
    not what its class builds (a new family's slip, or a transformers that builds it otherwise)
    is refused when the model is built, before anything is counted or sliced wrongly."""
    config = (CONFIGS[name] if name in CONFIGS else transformers.LlamaConfig)(**SHAPE)
    # under the family's own flag it is built, its MLP as the flag says
    mlp = build_model(config).model.layers[0].mlp
    assert projections.mlp_gated(mlp) is not param_count.FAMILIES[name].ungated_mlp
    monkeypatch.setitem(param_count.FAMILIES, name,
                        dataclasses.replace(param_count.FAMILIES[name], ungated_mlp=flag))
    with pytest.raises(PrunebenchError, match=(
            rf"block 0: \w+ForCausalLM builds an MLP {built} \(\w+MLP: .*up_proj.*\), but "
            rf"prunebench's family '{name}' counts, sizes and adapts it as "
            rf"{'ungated' if flag else 'gated'} \(Family.ungated_mlp is {flag}\): report it")):
        build_model(config)


def test_on_a_load_the_gate_refusal_comes_after_the_manifest_check_and_before_any_weight_loads(
        tmp_path, monkeypatch):
    """The order docs/failure-modes.md states: load_model verifies the checkpoint's manifest
    first (every recorded file hashed, the weights included: a changed weight file is refused
    by it, not by the gate check), then builds the model on the meta device, where the gate
    check refuses it, before any weight is loaded into it."""
    from prunebench import modeling

    model = build_model(transformers.LlamaConfig(**SHAPE), "cpu", torch.float32)
    modeling.save_model(model, None, tmp_path)
    monkeypatch.setitem(param_count.FAMILIES, "llama",
                        dataclasses.replace(param_count.FAMILIES["llama"], ungated_mlp=True))
    monkeypatch.setattr(modeling, "load_state_dict",
                        lambda *a, **k: pytest.fail("a weight was loaded first"))
    with pytest.raises(PrunebenchError, match="block 0: LlamaForCausalLM builds an MLP with a gate"):
        modeling.load_model(tmp_path)
    (weights,) = tmp_path.glob("*.safetensors")
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of the last weight: the same size, another sha256
    weights.write_bytes(bytes(data))
    monkeypatch.setenv("PRUNEBENCH_VERIFY", "full")
    with pytest.raises(PrunebenchError, match=f"weight file {weights.name} does not match its "
                                              "recorded sha256"):
        modeling.load_model(tmp_path)


@pytest.mark.parametrize("name", UNGATED)
@pytest.mark.parametrize("mlp_bias", [False, True])
def test_removing_a_channel_removes_two_hidden_weights_and_its_up_bias(name, mlp_bias, tmp_path):
    model = family_model(name, mlp_bias=mlp_bias)
    d = model.config.hidden_size
    dense = copy.deepcopy(model)
    before = numel(model)
    surgery.remove_channels(model, 1, [0])
    assert before - numel(model) == 2 * d + (1 if mlp_bias else 0) == \
        count_params(dense.config) - count_params(model.config)
    surgery.remove_channels(model, 2, [3, 7, 100])
    old, new = dense.model.layers[2].mlp, model.model.layers[2].mlp
    keep = [c for c in range(128) if c not in (3, 7, 100)]
    assert torch.equal(new.up_proj.weight, old.up_proj.weight[keep])
    assert torch.equal(new.down_proj.weight, old.down_proj.weight[:, keep])
    if mlp_bias:  # up's bias leaves with its channels, down's (over the hidden size) stays
        assert torch.equal(new.up_proj.bias, old.up_proj.bias[keep])
        assert torch.equal(new.down_proj.bias, old.down_proj.bias)
    assert model.config.layer_shapes[2]["intermediate_size"] == new.intermediate_size == 125
    assert numel(model) == count_params(model.config)
    reloads_with_its_logits(model, ids(), tmp_path)


def sliced_reference(dense, pruned):
    """transformers' dense model computing what `pruned` computes: each block's removed MLP
    channels (down_proj's columns) and removed query heads (o_proj's columns) zeroed, and the
    output biases the prune left (FLAP's compensation) copied; checked on the way that every
    kept weight of `pruned` is the dense one's rows and columns, and every bias its entries.
    (Modules by their LLaMA parts: Starcoder2's c_fc / c_proj, Phi's fc1 / fc2 and `dense` too.)"""
    reference = copy.deepcopy(dense)
    hd = head_dim(dense.config)
    with torch.no_grad():
        for old, new, ref in zip(dense.model.layers, pruned.model.layers,
                                 reference.model.layers):
            up, kept_up = (projections.get_part(mlp, "up_proj") for mlp in (old.mlp, new.mlp))
            channels = [int(torch.nonzero((up.weight == row).all(1))[0]) for row in kept_up.weight]
            assert channels == sorted(channels)
            assert torch.equal(kept_up.bias, up.bias[channels])
            down, ref_down = projections.down_proj(old.mlp), projections.down_proj(ref.mlp)
            assert torch.equal(projections.down_proj(new.mlp).weight, down.weight[:, channels])
            gone = [c for c in range(up.out_features) if c not in channels]
            ref_down.weight[:, gone] = 0
            ref_down.bias.copy_(projections.down_proj(new.mlp).bias)
            heads = []
            if not isinstance(new.self_attn, ZeroHeadAttention):
                q_old = old.self_attn.q_proj.weight.view(-1, hd, old.self_attn.q_proj.in_features)
                heads = [int(torch.nonzero((q_old == head).flatten(1).all(1))[0])
                         for head in new.self_attn.q_proj.weight.view(-1, hd, q_old.shape[-1])]
                rows = [h * hd + i for h in heads for i in range(hd)]
                assert torch.equal(new.self_attn.q_proj.bias, old.self_attn.q_proj.bias[rows])
                assert torch.equal(projections.o_proj(new.self_attn).weight,
                                   projections.o_proj(old.self_attn).weight[:, rows])
            o_proj, ref_o = projections.o_proj(old.self_attn), projections.o_proj(ref.self_attn)
            gone = [h * hd + i for h in range(o_proj.in_features // hd)
                    if h not in heads for i in range(hd)]
            ref_o.weight[:, gone] = 0
            ref_o.bias.copy_(projections.o_proj(new.self_attn).bias)
    return reference


@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp"])
@pytest.mark.parametrize("name", UNGATED)
def test_each_width_method_computes_transformers_logits_of_its_sliced_weights(name, method):
    dense = family_model(name)
    pruned = copy.deepcopy(dense)
    # a size at which every method removes MLP channels and some KV groups
    method_function(method)(pruned, ids(8, 24, seed=3), int(0.6 * numel(dense)))
    assert numel(pruned) == count_params(pruned.config) < numel(dense)
    assert any(s["intermediate_size"] < 128 for s in pruned.config.layer_shapes)
    reference = sliced_reference(dense, pruned)
    x = ids()
    torch.testing.assert_close(logits(pruned, x), logits(reference, x), rtol=0, atol=1e-5)
    assert (logits(pruned, x) - logits(dense, x)).abs().max() > 1e-3  # a real prune


@pytest.mark.parametrize("name", UNGATED)
def test_wanda_sp_gives_the_model_transformers_builds_at_its_uniform_shape(name):
    """Wanda-sp removes as many heads and channels from every block: transformers' own class
    at that shape, given the pruned weights, computes the pruned model's logits."""
    model = family_model(name)
    method_function("wanda_sp")(model, ids(8, 24, seed=3), int(0.6 * numel(model)))
    shapes = {json.dumps(s, sort_keys=True) for s in model.config.layer_shapes}
    assert len(shapes) == 1
    shape = model.config.layer_shapes[0]
    values = {k: v for k, v in model.config.to_dict().items() if k != "layer_shapes"}
    values.update(intermediate_size=shape["intermediate_size"],
                  num_attention_heads=shape["num_attention_heads"],
                  num_key_value_heads=shape["num_key_value_heads"])
    assert shape["intermediate_size"] < 128
    config = type(model.config).from_dict(values)
    theirs = getattr(transformers, type(model).__name__)(config).eval()
    theirs.load_state_dict(model.state_dict(), strict=True)
    x = ids()
    torch.testing.assert_close(logits(theirs, x), logits(model, x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", UNGATED)
def test_llm_pruner_scores_a_channel_by_its_up_row_and_down_column(name):
    """LLM-Pruner's channel group in an ungated MLP: |w * dL/dw| summed over the channel's
    up_proj row and down_proj column, no gate term (the gradients taken here by hand)."""
    model = family_model(name)
    calibration = ids(4, 16, seed=3)
    scores = llm_pruner.taylor_scores(model, calibration, [1, 2])
    mine = copy.deepcopy(model)
    mine.zero_grad()
    mine(input_ids=calibration, labels=calibration).loss.backward()
    for b in (1, 2):
        mlp = mine.model.layers[b].mlp
        up = (mlp.up_proj.weight * mlp.up_proj.weight.grad).abs().sum(1)
        down = (mlp.down_proj.weight * mlp.down_proj.weight.grad).abs().sum(0)
        torch.testing.assert_close(scores[b]["channels"], (up + down).detach(), rtol=1e-5,
                                   atol=1e-9)


@pytest.mark.parametrize("name", UNGATED)
def test_flap_compensates_the_removed_channels_mean_output(name):
    """FLAP's statistics of down_proj's inputs (relu2 of the up projection, on the dense model)
    and its compensation into down_proj's bias keep each pruned MLP's output, averaged over
    the calibration tokens and given the dense MLP's inputs, the dense MLP's."""
    model = family_model(name)
    calibration = ids(6, 16, seed=7)
    seen = {}
    hooks = [layer.mlp.register_forward_hook(
        lambda module, args, out, b=b: seen.__setitem__(b, (args[0], out)))
        for b, layer in enumerate(model.model.layers)]
    with torch.no_grad():
        model(input_ids=calibration)
    for hook in hooks:
        hook.remove()
    report = method_function("flap")(model, calibration, int(0.6 * numel(model)))
    assert any(block["channels_removed"] for block in report["blocks"])
    assert all("down_proj" in block["compensated"] for block in report["blocks"]
               if block["channels_removed"])
    mean = lambda t: t.double().reshape(-1, t.shape[-1]).mean(0)  # noqa: E731
    with torch.no_grad():
        for b, layer in enumerate(model.model.layers):
            inputs, dense = seen[b]
            torch.testing.assert_close(mean(layer.mlp(inputs)), mean(dense), rtol=0, atol=1e-5)


def width_pruned(name):
    """The family tests' model with a KV group out of block 1, every head out of block 2, a
    third of block 3's MLP channels and every one of block 0's."""
    model = family_model(name)
    surgery.remove_kv_groups(model, 1, [1])
    surgery.remove_kv_groups(model, 2, [0, 1])
    surgery.remove_channels(model, 3, range(0, 128, 3))
    surgery.remove_channels(model, 0, range(128))
    assert numel(model) == count_params(model.config)
    return model


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("pruned", [False, True])
@pytest.mark.parametrize("name", UNGATED)
def test_the_compiled_decoder_gives_transformers_logits(name, pruned, fuse):
    model = width_pruned(name) if pruned else family_model(name)
    decoder = decoder_gives_transformers_logits(model, fuse)
    assert not any(block.gated for block in decoder.blocks)
    assert [block.m for block in decoder.blocks] == ([0, 128, 128, 85] if pruned else [128] * 4)


@pytest.mark.parametrize("pruned", [False, True])
@pytest.mark.parametrize("name", UNGATED)
def test_the_compiled_decoder_decodes_as_generate_does(name, pruned):
    decodes_as_generate_does(width_pruned(name) if pruned else family_model(name))


@pytest.mark.parametrize("name", UNGATED)
def test_the_decoder_applies_relu2_between_up_and_down(name):
    """relu2 (ReLU, then squared: transformers' ReLUSquaredActivation, the published models'
    hidden_act) is what the decoder applies to up_proj's output, as the model's MLP does; the
    activation matters to these logits (SiLU instead changes them), and the decoder built from
    a model with another activation follows it."""
    model = family_model(name)
    assert model.config.hidden_act == "relu2"
    decoder = StaticDecoder(model, 2, 12, mode="eager")
    x = torch.linspace(-3, 3, 61)
    assert torch.equal(decoder.blocks[0].act(x), torch.relu(x) ** 2)
    check_the_decoder_follows_another_activation(model, torch.nn.SiLU())


def check_the_decoder_follows_another_activation(model, other: torch.nn.Module) -> None:
    """`model`'s MLP activation matters to its logits (`other` in every block changes them),
    and the decoder built from the model with `other` computes that model's logits: it applies
    what the MLP applies."""
    prompt = ids(2, 9, seed=6)
    reference = logits(model, prompt)[:, -1]
    changed = copy.deepcopy(model)
    for layer in changed.model.layers:
        layer.mlp.act_fn = other
    assert (logits(changed, prompt)[:, -1] - reference).abs().max() > 1e-2
    torch.testing.assert_close(StaticDecoder(changed, 2, 12, mode="eager").prefill_logits(
        prompt), logits(changed, prompt)[:, -1], rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", UNGATED)
def test_lora_adapts_up_and_down_by_default_and_merges(name):
    model = width_pruned(name)
    settings = lora.resolve_settings({"seed": 0})
    assert settings["target_modules"] == list(LORA_DEFAULTS["target_modules"])  # all seven
    peft_model, names, skipped = lora.attach_lora(model, settings)
    peft_model.eval()  # (the adapters' dropout off: the merged model has none)
    assert "model.layers.3.mlp.up_proj" in names and "model.layers.3.mlp.down_proj" in names
    assert not any("gate" in n for n in names)
    assert "model.layers.0.mlp.up_proj" in skipped  # no channels left: nothing to adapt
    merged = check_a_trained_adapter_merges(model, peft_model, settings)
    assert type(merged).__name__ == type(family_model(name)).__name__


def check_a_trained_adapter_merges(model, peft_model, settings: dict, up_name: str = "up_proj"):
    """Train (by hand) the adapter of block 3's MLP input `up_name` (LLaMA's up_proj, under
    the family's own name) and merge: the merged weight is the base plus alpha / r x B @ A,
    the merged model computes the adapted model's logits and counts as its config says.
    Returns the merged model."""
    up = getattr(model.model.layers[3].mlp, up_name)
    base = up.base_layer.weight.detach().clone()
    with torch.no_grad():  # a trained adapter (lora_B starts at zero)
        torch.manual_seed(1)
        up.lora_B["default"].weight.normal_(0, 0.1)
    a, b = up.lora_A["default"].weight.detach(), up.lora_B["default"].weight.detach()
    x = ids()
    adapted = logits(peft_model, x)
    merged = peft_model.merge_and_unload()
    scale = settings["alpha"] / settings["r"]
    torch.testing.assert_close(getattr(merged.model.layers[3].mlp, up_name).weight,
                               base + scale * b @ a)
    torch.testing.assert_close(logits(merged, x), adapted, rtol=0, atol=1e-5)
    assert numel(merged) == count_params(merged.config)
    return merged


@pytest.mark.parametrize("name", UNGATED)
def test_gate_proj_as_a_lora_target_of_an_ungated_mlp_is_refused_with_what_to_do(name):
    model = family_model(name)
    with pytest.raises(PrunebenchError, match=r"names gate_proj, but "
                                              rf"{type(model).__name__}'s MLP has no gate .*"
                                              r"take gate_proj out \(\['q_proj', 'up_proj'\]\)"):
        lora.lora_target_names(model, ["q_proj", "gate_proj", "up_proj"])
    with pytest.raises(PrunebenchError, match="naming up_proj for its MLP"):
        lora.lora_target_names(model, ["gate_proj"])
    chosen, _ = lora.lora_target_names(model, ["q_proj", "up_proj", "down_proj"])
    assert len(chosen) == 3 * 4
    # a LLaMA model takes the same list
    llama = family_model("llama3")
    assert len(lora.lora_target_names(llama, ["q_proj", "gate_proj", "up_proj"])[0]) == 3 * 4


@pytest.mark.parametrize("name", UNGATED)
def test_a_local_ungated_models_gate_target_is_refused_at_start(name, tmp_path):
    """The start's check reads the family from the folder's config.json, as the lora job
    would refuse the target after the prune."""
    from prunebench.plan.checks import packed_lora_target_problems

    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": name, **SHAPE}))
    config = {"models": {"m": {"source": f"local:{folder}", "variants": ["flap-0.8+lora"]}},
              "lora": {"target_modules": list(LORA_DEFAULTS["target_modules"])}}
    assert packed_lora_target_problems(config, tmp_path / "nowhere") == []
    config["lora"]["target_modules"] = ["q_proj", "gate_proj"]
    assert packed_lora_target_problems(config, tmp_path / "nowhere") == [
        f"models.m ({name}): lora.target_modules names gate_proj, but "
        f"{type(family_model(name)).__name__}'s MLP has no gate (it computes "
        "down_proj(act(up_proj(x)))): take gate_proj out (['q_proj']), or keep the default "
        "(all seven), which adapts every projection the model has"]
    config["models"]["m"]["variants"] = ["flap-0.8"]  # no recovery: nothing to refuse
    assert packed_lora_target_problems(config, tmp_path / "nowhere") == []
