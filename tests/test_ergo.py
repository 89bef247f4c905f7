"""Ergo (ergo: ErgoForCausalLM, transformers 5.25 on: Family.min_transformers), a mixture of
experts: depth pruning and the hf / hf_static backends, as every mixture of experts.

On a transformers older than 5.25 (make test-floor's 5.17; on 5.25 the release is faked): its
config.json is read, counted and planned without a transformers class, each block's kinds and
its window (`local_attention_window`) read as ErgoConfig reads them, and everything that builds
the model is refused before it loads, naming the release to install.

Where the class exists (skipped below with the refusal's reason): counts against transformers'
meta models (its packed qkv_proj of head_dim hidden / heads whatever config.json says, four
norms and two residual gates a block, ungated relu2 experts each with its own norm, an ungated
shared expert with its norm, a head never tied whatever config.json says) and by hand; depth
pruning equal to transformers' model of the kept blocks, their kinds renumbered; a depth-pruned
save reloaded by prunebench and by transformers, the hf and hf_static tokens transformers'
generate's; a checkpoint in the published layout (transformers' own save: its training
framework's names, the router and shared expert stored [in, out]) read to the model's tensors
and logits, the orientation decided by the name (a square router and shared expert, which no
shape check can turn, read right), in half precision holding what transformers keeps float32
so; the residual gates, the experts' norms and global_attention_scale shown to matter; the
width methods' and the compiled decoder's refusals. tests/test_families.py runs the shared
per-family tests on it (the depth methods, save and reload, the hf backends, evaluation)."""

from __future__ import annotations

import copy

import pytest
import torch
import transformers

from prunebench import modeling
from prunebench.checkpoint.param_count import (block_param_count, config_from_dict,
                                               count_params, layer_shapes, sparse_mlp_blocks,
                                               transformers_release_problem)
from prunebench.modeling import load_model, save_model
from test_exaone_internlm3 import check_refused_below_its_release
from test_families import FAMILIES, family_model, ids, in_allocated_memory, logits
from test_flint_kolibri1_minicpm5_moe import changed_by
from test_glm4_moe import check_refused_as_a_mixture_of_experts
from test_helium_vaultgemma_granitemoeshared import SHAPE, check_counts, check_depth_pruning
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

SLIDING, FULL = "sliding_attention", "full_attention"
# (SHAPE's hidden 48, 6 query and 2 KV heads of 8; no intermediate_size: Ergo has none)
EXPERTS = dict(first_dense_intermediate_size=56, moe_intermediate_size=24,
               shared_intermediate_size=40, num_experts=4, num_experts_per_tok=2)
TINY_JSON = {**{k: v for k, v in SHAPE.items() if k != "intermediate_size"}, **EXPERTS,
             "model_type": "ergo", "local_attention_window": 5}


def needs_the_class() -> None:
    """Skip where this transformers predates Ergo (the refusal's words as the reason)."""
    if problem := transformers_release_problem("ergo"):
        pytest.skip(problem)


@pytest.fixture(scope="module")
def model():
    """The family's tiny model (tests/test_families.py's), built once: copy before changing."""
    needs_the_class()
    return family_model("ergo")


# ------------------------------------------------------------------ the release it needs

def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        tmp_path, monkeypatch):
    """Below 5.25 (5.17 really; else faked): every way to build the model refused naming both
    releases and the upgrade, the config.json counted all the same; 5.25.0 the boundary; and
    the installed transformers has ErgoConfig exactly where the refusal says it does."""
    has = hasattr(transformers, "ErgoConfig") and hasattr(transformers, "ErgoForCausalLM")
    assert has == (transformers_release_problem("ergo") is None)
    check_refused_below_its_release("ergo", "5.25.0", TINY_JSON, tmp_path, monkeypatch)


# ------------------------------------------------------- config.json read without a class

def test_config_json_is_read_as_ergoconfig_reads_it():
    """Without a class (any release): the published window key local_attention_window as
    sliding_window; every global_attention_every_n_layers-th block global and the first
    num_dense_blocks dense where config.json lists no kinds; head_dim hidden / heads and the
    head untied whatever config.json says. Where the class exists, the same as ErgoConfig
    and ErgoForCausalLM read them."""
    raw = {**TINY_JSON, "num_hidden_layers": 7, "global_attention_every_n_layers": 3,
           "num_dense_blocks": 2, "head_dim": 4, "tie_word_embeddings": True}
    ours = config_from_dict(raw)
    assert ours.sliding_window == 5
    assert ours.layer_types == [SLIDING, SLIDING, FULL] * 2 + [SLIDING]
    assert sparse_mlp_blocks(ours) == [False, False] + [True] * 5
    assert ours.head_dim == 8 and ours.tie_word_embeddings is False
    if transformers_release_problem("ergo") is None:
        theirs = transformers.ErgoConfig(**{k: v for k, v in raw.items() if k != "model_type"})
        assert theirs.sliding_window == ours.sliding_window
        assert theirs.layer_types == ours.layer_types
        assert theirs.mlp_layer_types == ours.mlp_layer_types
        with torch.device("meta"):
            built = transformers.ErgoForCausalLM(theirs)
        assert built.model.layers[0].self_attn.head_dim == 8
        assert built.lm_head.weight is not built.model.embed_tokens.weight


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [
    {**EXPERTS},
    # head_dim and tying given: ErgoAttention and ErgoForCausalLM read neither
    {**EXPERTS, "head_dim": 4, "tie_word_embeddings": True, "num_dense_blocks": 2},
    {**EXPERTS, "mlp_layer_types": ["sparse", "dense", "sparse"], "num_key_value_heads": 6,
     "global_attention_every_n_layers": 2}])
def test_counts_equal_transformers_parameters(values):
    needs_the_class()
    check_counts("ergo", values)


def test_the_blocks_counted_by_hand():
    """Without a class, from config.json alone (hidden 48, 6 query and 2 KV heads of 8):
    dense block 0 (qkv_proj of 10 heads' rows, o_proj, q/k norms of 8, an up / down relu2 MLP
    of 56, four norms, two residual gates) and sparse blocks 1-2 (a router, 4 ungated experts
    of 24 each with a norm of 48, an ungated shared expert of 40 with its norm); the
    embeddings and an untied head of 97 rows, the final norm. A head_dim or tying in
    config.json changes nothing."""
    d = 48
    attention = d * (6 + 2 + 2) * 8 + 6 * 8 * d + 2 * 8
    block = attention + 4 * d + 2 * d
    dense = block + 2 * d * 56
    sparse = block + 4 * d + 4 * (2 * d * 24 + d) + 2 * d * 40 + d
    config = config_from_dict(TINY_JSON)
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [dense, sparse,
                                                                             sparse]
    total = 2 * 97 * d + d + dense + 2 * sparse
    assert count_params(config) == total
    assert count_params(config_from_dict({**TINY_JSON, "head_dim": 4,
                                          "tie_word_embeddings": True})) == total


# --------------------------------------------------------------------------- depth pruning

@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop):
    """Its dense block 0 and its blocks' windows renumbered: transformers' model of the kept
    blocks, given the kept blocks' kinds alone."""
    needs_the_class()
    keep = [b for b in range(4) if b not in drop]
    config = FAMILIES["ergo"]()
    check_depth_pruning("ergo", drop, layer_types=[config.layer_types[b] for b in keep],
                        mlp_layer_types=[config.mlp_layer_types[b] for b in keep])


def test_a_depth_pruned_reload_decodes_as_transformers(model, tmp_path):
    """Saved with blocks 1 and 2 removed (under the names ErgoForCausalLM holds, which its
    from_pretrained reads as they are), loaded by prunebench and by transformers' class: the
    hf backend's tokens transformers' generate's, and hf_static's too."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        copy.deepcopy(model), [1, 2], transformers.ErgoForCausalLM, tmp_path / "pruned")


# --------------------------------------------------------------- the published layout

def published_checkpoint(model, folder):
    """`model` saved by transformers' own save_pretrained: the published layout (Ergo's
    training framework's names, its router and shared expert [in, out]), asserted so."""
    model.save_pretrained(folder)
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        names = set(f.keys())
        router = f.get_slice("layers.1.feed_forward.gate_kernel").get_shape()
    assert "tok_embeddings.weight" in names and "output.weight" in names
    assert router == [model.config.hidden_size, model.config.num_experts]
    return folder


def test_a_published_checkpoint_is_read_to_the_models_tensors_and_logits(model, tmp_path):
    """transformers' save of the tiny model (the published names and orientation) loaded by
    prunebench: every tensor the model's, exactly (renamed, the router and shared expert
    turned), and its logits; saved again by prunebench under the class's names, loaded by
    prunebench and by transformers to the same tensors."""
    ours = load_model(published_checkpoint(model, tmp_path / "published"))
    theirs = dict(model.state_dict())
    assert set(ours.state_dict()) == set(theirs)
    for name, tensor in ours.state_dict().items():
        assert torch.equal(tensor, theirs[name]), name
    x = ids(2, 24)
    torch.testing.assert_close(logits(ours, x), logits(model, x), rtol=0, atol=1e-6)
    save_model(ours, None, tmp_path / "held")
    again = load_model(tmp_path / "held")
    reference = transformers.ErgoForCausalLM.from_pretrained(tmp_path / "held",
                                                             dtype=torch.float32)
    for name, tensor in reference.state_dict().items():
        assert torch.equal(again.state_dict()[name], tensor), name
        assert torch.equal(tensor, theirs[name]), name


def test_the_stored_orientation_is_read_by_name_not_by_shape(tmp_path, monkeypatch):
    """A router of as many experts as hidden channels and a shared expert as wide as hidden:
    square, so shapes cannot say which way they are stored. The published names are turned
    (transformers' conversion does so), the class's names read as they are: both loads are
    the model; without the turn the published checkpoint would load, silently wrong."""
    needs_the_class()
    square = family_model("ergo", num_experts=64, num_experts_per_tok=2,
                          shared_intermediate_size=64)
    published = load_model(published_checkpoint(square, tmp_path / "published"))
    save_model(published, None, tmp_path / "held")
    held = load_model(tmp_path / "held")
    x = ids(2, 24)
    for loaded in (published, held):
        torch.testing.assert_close(logits(loaded, x), logits(square, x), rtol=0, atol=1e-6)
        router = loaded.model.layers[1].mlp.gate.linear.weight
        assert torch.equal(router, square.model.layers[1].mlp.gate.linear.weight)
    monkeypatch.setitem(modeling.STORED_TRANSPOSED, "ergo", ())
    unturned = load_model(tmp_path / "published", verify=False)
    assert not torch.equal(unturned.model.layers[1].mlp.gate.linear.weight,
                           square.model.layers[1].mlp.gate.linear.weight)


def test_a_bfloat16_load_of_a_published_checkpoint_is_transformers(model, tmp_path):
    """Loaded in bfloat16, prunebench holds each tensor in the dtype transformers'
    from_pretrained does: float32 what ErgoPreTrainedModel keeps so (the embeddings, norms,
    residual gates, the router and the experts' norms), matched on the class's names (the
    published names of most differ), and computes its logits."""
    folder = published_checkpoint(model, tmp_path / "published")
    ours = load_model(folder, dtype=torch.bfloat16)
    theirs = in_allocated_memory(transformers.ErgoForCausalLM.from_pretrained(
        folder, dtype=torch.bfloat16)).eval()
    their_tensors = {**dict(theirs.named_parameters()), **dict(theirs.named_buffers())}
    for name, tensor in [*ours.named_parameters(), *ours.named_buffers()]:
        assert tensor.dtype == their_tensors[name].dtype, name
    block = ours.model.layers[1]
    assert ours.model.embed_tokens.weight.dtype == torch.float32
    assert block.mlp.gate.linear.weight.dtype == torch.float32
    assert block.attention_residual_gate.weight.dtype == torch.float32
    assert block.mlp.experts.up_proj.dtype == torch.bfloat16
    x = ids()
    assert torch.equal(logits(ours, x), logits(theirs, x))


# --------------------------------------------------------------- what its pieces do

def test_the_residual_gates_change_the_logits():
    """Each block mixes a sublayer's output into the residual stream by its gates (sigmoid
    of the weight, and the residual by a function of it): counted, and they weigh."""
    def gate(m):
        for layer in m.model.layers:
            layer.attention_residual_gate.weight.add_(2.0)
            layer.feedforward_residual_gate.weight.sub_(2.0)
    changed_by("ergo", gate)


def test_the_experts_own_norms_change_the_logits():
    """Each routed expert's norm (a row of post_expert_norm each) and the shared expert's."""
    def norms(m):
        for layer in m.model.layers[1:]:
            layer.mlp.experts.post_expert_norm.weight[0].mul_(3.0)
            layer.mlp.shared_experts.norm.weight.mul_(0.2)
    changed_by("ergo", norms)


def test_global_attention_scale_changes_the_logits_and_a_load_rebuilds_it(model, tmp_path):
    """The global blocks' queries and keys scaled by sqrt(global_attention_scale) (a buffer no
    checkpoint holds): another scale changes the logits; a load makes it as the class does."""
    def rescale(m):
        for layer in m.model.layers:
            if layer.self_attn.qk_scale is not None:
                layer.self_attn.qk_scale.fill_(1.0)
    changed_by("ergo", rescale)
    save_model(model, None, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    scales = [layer.self_attn.qk_scale for layer in loaded.model.layers]
    assert [s is not None for s in scales] == [False, True, False, True]
    assert all(torch.equal(s, torch.tensor(1.5 ** 0.5)) for s in scales if s is not None)


@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp", "blockpruner",
                                    "the compiled backend"])
def test_width_methods_and_the_compiled_decoder_are_refused(method):
    needs_the_class()
    check_refused_as_a_mixture_of_experts(FAMILIES["ergo"](), method, "ErgoForCausalLM")
