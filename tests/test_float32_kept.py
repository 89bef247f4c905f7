"""What transformers keeps in float32 when it loads a model in half precision (its classes'
`_keep_in_fp32_modules_strict`: DeepSeek-V3's routers and score biases, DeepSeek-V2's routers in
transformers 5.25; `_keep_in_fp32_modules` in float16: gpt-oss's norms), prunebench keeps too:
when it loads a model, when it casts one to score it, and when it saves a pruned one in its
checkpoint's dtype. Each test compares with the installed transformers' own loading, so each
version's lists apply (5.17 keeps DeepSeek's score biases only)."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM

from prunebench.checkpoint.local_import import import_local
from prunebench.modeling import cast_floating, float32_kept, load_model, weight_files
from prunebench.pruning import prune_checkpoint
from test_deepseek import random_model, small
from test_deepseek_v2 import small as small_v2
from test_families import family_model, ids, logits
from test_families import tokenizer  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("one_thread")

HALF = [torch.bfloat16, torch.float16]


def stored_dtypes(folder) -> dict[str, str]:
    out = {}
    for file in weight_files(folder):
        with safe_open(file, framework="pt") as fh:
            out.update({key: fh.get_slice(key).get_dtype() for key in fh.keys()})
    return out


def published(model, folder, with_tokenizer):
    """The model saved as a half-precision checkpoint is published: bfloat16 weights, and what
    transformers keeps in float32 (the score biases of DeepSeek-V3's routers) in float32."""
    cast_floating(model, torch.bfloat16)
    model.config.dtype = torch.bfloat16
    model.save_pretrained(folder)
    with_tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("family", ["deepseek_v3", "deepseek_v2"])
def test_a_half_precision_load_keeps_in_float32_what_transformers_keeps(family, dtype, tmp_path,
                                                                        tokenizer):  # noqa: F811
    model = random_model(small() if family == "deepseek_v3" else small_v2(), seed=3)
    hub = published(model, tmp_path / "hub", tokenizer)
    stored = stored_dtypes(hub)
    assert stored["model.layers.1.self_attn.o_proj.weight"] == "BF16"
    if family == "deepseek_v3":
        assert stored["model.layers.1.mlp.gate.e_score_correction_bias"] == "F32"
    ours = load_model(import_local(f"local:{hub}", tmp_path / "imported"), dtype=dtype)
    theirs = AutoModelForCausalLM.from_pretrained(hub, dtype=dtype).eval()
    their_tensors = {**dict(theirs.named_parameters()), **dict(theirs.named_buffers())}
    kept = []
    for name, tensor in [*ours.named_parameters(), *ours.named_buffers()]:
        assert tensor.dtype == their_tensors[name].dtype, name
        kept += [name] if tensor.dtype == torch.float32 else []
    if family == "deepseek_v3":  # the score biases, which pick the experts, in every version
        assert "model.layers.1.mlp.gate.e_score_correction_bias" in kept
    x = ids(2, 10)
    assert torch.equal(logits(ours, x), logits(theirs, x))


def test_gpt_oss_keeps_its_norms_in_float32_in_float16_only(tmp_path):
    model = family_model("gpt_oss")
    model.save_pretrained(tmp_path / "hub")
    for dtype in HALF:
        ours = load_model(tmp_path / "hub", dtype=dtype)
        theirs = AutoModelForCausalLM.from_pretrained(tmp_path / "hub", dtype=dtype)
        for (name, tensor), (_, their) in zip(ours.named_parameters(),
                                              theirs.named_parameters()):
            assert tensor.dtype == their.dtype, name
        norm = ours.model.layers[0].input_layernorm.weight.dtype
        assert norm == (torch.float32 if dtype == torch.float16 else dtype)


def test_nothing_is_kept_in_float32_at_full_precision_nor_in_a_family_without_lists():
    deepseek = random_model(small())
    assert float32_kept(deepseek, torch.bfloat16)("model.layers.1.mlp.gate.e_score_correction_bias")
    for dtype in (torch.float32, torch.float64):
        assert not float32_kept(deepseek, dtype)("model.layers.1.mlp.gate.e_score_correction_bias")
    llama = family_model("llama3")
    cast_floating(llama, torch.float16)
    assert {p.dtype for p in llama.parameters()} == {torch.float16}


def test_a_pruned_deepseek_saved_in_bfloat16_keeps_its_float32_score_biases_exact(tmp_path,
                                                                                 tokenizer):  # noqa: F811
    """The prune loads the model in float32, scores it cast to the checkpoint's bfloat16 in
    place and back, and saves it in bfloat16: each kept block's score biases are the published
    float32 values, stored in float32 (rounded to bfloat16 they would pick other experts)."""
    model = random_model(small(), seed=4)
    hub = published(model, tmp_path / "hub", tokenizer)
    imported = import_local(f"local:{hub}", tmp_path / "imported")
    before = load_model(imported, dtype=None)
    biases = {i: layer.mlp.gate.e_score_correction_bias.clone()
              for i, layer in enumerate(before.model.layers) if i >= 1}
    calibration = torch.randint(3, 100, (4, 16), generator=torch.Generator().manual_seed(5))
    report = prune_checkpoint(imported, "depth_ppl", "0.8", tmp_path / "pruned", calibration,
                              device="cpu", params={"dtype": "bfloat16"})
    removed = report["method_report"]["removed_blocks"]
    stored = stored_dtypes(tmp_path / "pruned")
    pruned = load_model(tmp_path / "pruned", dtype=None)
    kept = [i for i in range(4) if i not in removed]
    for new, old in enumerate(kept):
        if old >= 1:  # a sparse block
            name = f"model.layers.{new}.mlp.gate.e_score_correction_bias"
            assert stored[name] == "F32"
            assert torch.equal(pruned.model.layers[new].mlp.gate.e_score_correction_bias,
                               biases[old])
    assert stored["model.layers.0.self_attn.o_proj.weight"] == "BF16"
