"""The published FP8 checkpoints of A.X K2 (skt/A.X-K2) and MiMo-V2-Flash
(XiaomiMiMo/MiMo-V2-Flash), dequantized once on import as DeepSeek-V3's
(param_count.FP8_PUBLISHED, checkpoint.moe_fuse), and DeepSeek-V4's, refused.

Each tiny model's weights are written in its publisher's layout (one tensor per expert, the
published names, a multi-token-prediction layer) and quantized here into the block FP8 that
transformers' finegrained FP8 integration reads: every linear weight in e4m3 beside a float32
`weight_scale_inv` a tile, but those the publisher leaves in bfloat16 without a scale (A.X K2's
gated norms' W_down / W_up and its indexers' weights_proj; MiMo-V2-Flash's o_proj). Imported:
the model holds what transformers' own dequantizing load of the published folder holds (each
value times its tile's scale, rounded to bfloat16), computes its logits, and each weight is the
original to e4m3's precision. A scale grid other than one a tile (padded) and an FP8 weight
without a scale are refused; so are DeepSeek-V4's published checkpoints (what is not confirmed
is named) and a quantization other than block FP8 (A.X K2's NVFP4 copy)."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import checked_config_json, count_params
from prunebench.modeling import load_model
from test_deepseek import quantize_fp8, random_model, write_published_folder
from test_exaone_internlm3 import needs
from test_families import FAMILIES, _write_config, family_model, ids, logits, numel
from test_families import tokenizer  # noqa: F401 - a fixture
from test_mimo_v2_flash import mtp_layer, published_names
from test_moe import per_expert_state

pytestmark = pytest.mark.usefixtures("one_thread")

TILE = (4, 4)  # divides every weight of the tiny models, as transformers' dequantization needs
QUANTIZATION = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                "weight_block_size": list(TILE)}


def quantized(state: dict, unquantized: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """`state` as a block-FP8 checkpoint holds it: each 2D weight but the embeddings, the head,
    the routers and the names holding one of `unquantized` in e4m3 with its weight_scale_inv;
    the rest in bfloat16 but the routers' score biases (float32)."""
    out = {}
    for key, tensor in state.items():
        tensor = tensor.detach().clone().contiguous()
        if tensor.dim() == 2 and not any(part in key for part in (
                "embed_tokens.", "lm_head.", ".mlp.gate.weight", *unquantized)):
            out[key], out[key[:-len(".weight")] + ".weight_scale_inv"] = quantize_fp8(
                tensor.float(), TILE)
        else:
            out[key] = tensor.float() if key.endswith("e_score_correction_bias") \
                else tensor.to(torch.bfloat16)
    return out


def check_dequantized_import(model, state, unquantized, tmp_path, words, hub_id) -> tuple:
    """`model`'s published `state` quantized (`quantized`) in a hub-like folder: refused as it
    is, naming the import; imported, the model transformers' dequantizing load of the folder
    builds (its float32 products rounded to bfloat16, as the import writes them), value for
    value and logit for logit, and `model`'s to e4m3's precision (3 mantissa bits) where a
    weight was quantized, exactly (in bfloat16) where not. Returns the imported model and the
    fusion's record."""
    published = quantized(state, unquantized)
    hub = tmp_path / "hub"
    write_published_folder(hub, words, {**json.loads(model.config.to_json_string()),
                                        "quantization_config": {
                                            **QUANTIZATION,
                                            "modules_to_not_convert": list(unquantized)}},
                           published)
    with pytest.raises(PrunebenchError, match=f"with FP8 weights .*dequantizes them once.*"
                                              f"hf:{hub_id}@"):
        load_model(hub)
    out = import_local(f"local:{hub}", tmp_path / "imported")
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["dequantized_from"] == "fp8"
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    ours = load_model(out)
    assert numel(ours) == count_params(ours.config) == numel(model)
    theirs = AutoModelForCausalLM.from_pretrained(hub, dtype=torch.float32).eval()
    with torch.no_grad():
        for tensor in theirs.parameters():
            if tensor.dim() > 1:
                tensor.copy_(tensor.to(torch.bfloat16).float())
    their_state, original = theirs.state_dict(), model.state_dict()
    assert set(their_state) == set(ours.state_dict())
    for key, tensor in ours.state_dict().items():
        assert torch.equal(tensor.float(), their_state[key].float()), key
        if tensor.dim() > 1:  # (e4m3: a relative step of 1/8 at most, half of it rounded)
            error = (tensor.float() - original[key]).abs().max()
            assert error <= 0.07 * original[key].abs().max(), key
    assert torch.equal(logits(ours, ids()), logits(theirs, ids()))
    return ours, published, record


def test_a_published_axk2_fp8_checkpoint_is_dequantized_on_import(tmp_path, request):
    """SK Telecom's layout (test_axk2.published_state) in block FP8, its gate MLPs and
    indexers' weights_proj in bfloat16 (modules_to_not_convert): imported as transformers
    loads it, q_b_proj's scales read with it under its held name q_gate_proj, the gates kept as
    published, the MTP layer dropped with its scales."""
    needs("axk2")
    from test_axk2 import published_state

    words = request.getfixturevalue("tokenizer")  # (after needs: none built on 5.17)
    model = random_model(FAMILIES["axk2"]())
    ours, published, record = check_dequantized_import(
        model, published_state(model), ("W_down", "W_up", "weights_proj"), tmp_path, words,
        "skt/A.X-K2")
    assert record["dropped_blocks"] == ["model.layers.4"]
    name = "model.layers.1.self_attn.q_b_proj.weight"
    assert torch.equal(ours.model.layers[1].self_attn.q_gate_proj.weight.to(torch.bfloat16),
                       moe_fuse.dequantize_fp8(published[name],
                                               published[name + "_scale_inv"], TILE))
    gate = ours.model.layers[1].input_layernorm.mlp.fc1.weight
    assert torch.equal(gate.to(torch.bfloat16),
                       published["model.layers.1.input_layernorm.W_down.weight"])


@pytest.fixture(scope="module")
def mimo():
    model = family_model("mimo_v2_flash")
    return model, {**published_names(per_expert_state(model, "mimo_v2_flash")),
                   **mtp_layer(64)}


def test_a_published_mimo_v2_flash_fp8_checkpoint_is_dequantized_on_import(
        mimo, tmp_path, tokenizer):  # noqa: F811 - the fixture
    """Xiaomi's layout (one tensor per expert, the sinks as attention_sink_bias, MTP layers
    model.mtp.*) in block FP8, o_proj in bfloat16: imported as transformers loads it, o_proj
    as published, each expert's weights dequantized before they are fused."""
    model, state = mimo
    ours, published, record = check_dequantized_import(
        model, state, ("o_proj",), tmp_path, tokenizer, "XiaomiMiMo/MiMo-V2-Flash")
    assert record["dropped_blocks"] == ["model.mtp"]
    assert torch.equal(ours.model.layers[1].self_attn.o_proj.weight.to(torch.bfloat16),
                       published["model.layers.1.self_attn.o_proj.weight"])
    up = "model.layers.2.mlp.experts.3.up_proj.weight"
    assert torch.equal(ours.model.layers[2].mlp.experts.gate_up_proj[3, 32:].to(torch.bfloat16),
                       moe_fuse.dequantize_fp8(published[up], published[up + "_scale_inv"],
                                               TILE))


def padded(published: dict) -> None:
    """A scale grid one row of tiles longer than k_proj's rows need (a padded grid)."""
    scale = published["model.layers.1.self_attn.k_proj.weight_scale_inv"]
    published["model.layers.1.self_attn.k_proj.weight_scale_inv"] = torch.cat(
        [scale, scale[-1:]])


def scale_dropped(published: dict) -> None:
    """v_proj's FP8 values without their scales."""
    del published["model.layers.2.self_attn.v_proj.weight_scale_inv"]


@pytest.mark.parametrize("change, match", [
    (padded, r"model.layers.1.self_attn.k_proj.weight is torch.float8_e4m3fn \[64, 64\] "
             r"with a weight_scale_inv of \(17, 16\).*a grid of \(16, 16\)"),
    (scale_dropped, "model.layers.2.self_attn.v_proj.weight is float8_e4m3fn without a "
                    "weight_scale_inv")])
def test_a_layout_other_than_one_scale_a_tile_is_refused_on_import(
        mimo, change, match, tmp_path, tokenizer):  # noqa: F811 - the fixture
    """Which tile a value is of is known for the grid of one scale a tile alone (transformers'
    FP8Linear holds no other), and an e4m3 value means nothing without its scale: both refused
    by the import, naming the tensor, before a model is written."""
    model, state = mimo
    published = quantized(state, ("o_proj",))
    change(published)
    write_published_folder(tmp_path / "hub", tokenizer, {
        **json.loads(model.config.to_json_string()), "quantization_config": QUANTIZATION},
        published)
    with pytest.raises(PrunebenchError, match=match):
        import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    assert not (tmp_path / "imported" / moe_fuse.RECORD).exists()


def test_published_deepseek_v4_weights_are_refused_naming_what_is_not_confirmed(tmp_path):
    """deepseek-ai's DeepSeek-V4 config.json (FP8, experts in FP4): refused when read and on
    import, naming its reference code's tensor names and the FP4 storage, not as any
    quantized checkpoint."""
    folder = _write_config(tmp_path / "m", {
        "model_type": "deepseek_v4", "expert_dtype": "fp4",
        "quantization_config": {**QUANTIZATION, "weight_block_size": [128, 128]}})
    for read in (lambda: checked_config_json(folder),
                 lambda: checked_config_json(folder, text_part=True)):
        with pytest.raises(PrunebenchError, match="DeepSeek-V4 as deepseek-ai publishes it.*"
                                                  "reference code's names.*FP4 experts' "
                                                  "storage.*save_pretrained in bfloat16"):
            read()


def test_axk2s_nvfp4_copy_is_refused_as_a_quantized_checkpoint(tmp_path):
    """skt/A.X-K2-NVFP4 (another quant_method than block FP8): refused when read, as any
    quantized checkpoint prunebench does not dequantize."""
    folder = _write_config(tmp_path / "m", {
        "model_type": "axk2", "quantization_config": {"quant_method": "modelopt",
                                                      "quant_algo": "NVFP4"}})
    with pytest.raises(PrunebenchError, match="describes a quantized checkpoint "
                                              r"\(quantization_config, modelopt\)"):
        checked_config_json(folder, text_part=True)
