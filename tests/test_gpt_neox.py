"""GPT-NeoX (gpt_neox, GPTNeoXForCausalLM; Pythia, GPT-NeoX-20B): exact counts over its
options (attention biases, the parallel residual, tying) with and without transformers, and
by hand for the known shapes; the fused query_key_value module's rows, head by head, kept
together by head removal (each kept head's q, k and v rows and biases, its `dense` columns)
and the pruned model computing what transformers' own dense model computes with the removed
heads and channels silenced; a uniformly MLP-pruned model equal to transformers' model of that
width; depth pruning equal to transformers' model of the kept blocks, saved and reloaded by
prunebench and by transformers' class; a published folder (its LM head as `embed_out`,
rotary_pct / rotary_emb_base) imported and loaded as transformers loads it; the compiled
decoder against transformers on width-pruned models with and without the parallel residual,
fused and not, each of its pieces shown to matter; FLAP's compensation in its parallel block
of two norms; LoRA's adapters on its own module names (tests/test_families.py runs the shared
per-family tests on it too: every method, save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

from prunebench import projections
from prunebench.checkpoint.architectures import (ARCHITECTURES, architecture_config,
                                                known_shape_of)
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                             config_from_json, kv_heads, norms_per_block,
                                             parallel_block)
from prunebench.lora import lora_target_names
from prunebench.methods import surgery
from prunebench.modeling import (ZeroHeadAttention, build_model,
                                 count_params, count_params_meta, final_norm, load_model,
                                 remove_blocks, save_model)
from prunebench.plan.lora_settings import TARGETS
from test_cohere import (decoder_gives_transformers_logits, decodes_as_generate_does,
                         flap_keeps_each_blocks_mean_output, reloads_with_its_logits)
from test_families import (PUBLISHED, family_config, family_model, ids, in_allocated_memory,
                           logits, numel)
from test_families import tokenizer  # noqa: F401 - a fixture
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers
from test_stablelm import decoder_follows_the_change, dropout_turned_off, without_norm_biases

pytestmark = pytest.mark.usefixtures("one_thread")

HEADS, HD, WIDTH = 4, 16, 128  # the family tests' tiny GPT-NeoX: 4 heads of 16, 128 channels


def small(**kw) -> GPTNeoXConfig:
    return family_config("gpt_neox", **kw)


@pytest.mark.parametrize("bias,parallel,tied", list(itertools.product([False, True], repeat=3)))
def test_counts_equal_transformers_parameters(bias, parallel, tied):
    config = small(attention_bias=bias, use_parallel_residual=parallel, tie_word_embeddings=tied)
    model = GPTNeoXForCausalLM(config)
    layer = model.gpt_neox.layers[0]
    assert (layer.attention.query_key_value.bias is not None) == bias
    assert (layer.attention.dense.bias is not None) == bias
    assert layer.mlp.dense_h_to_4h.bias is not None and layer.mlp.dense_4h_to_h.bias is not None
    # two biased LayerNorms a block in either layout: the parallel block norms the MLP's
    # input apart
    assert layer.post_attention_layernorm.bias is not None and norms_per_block(config) == 2
    assert parallel_block(config) == parallel
    assert count_params(config) == count_params_meta(config) == numel(model)
    # and without transformers, from its config.json's values (`prunebench plan`)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


def test_a_published_config_json_counts_as_transformers_builds_it(tmp_path):
    """Pythia's config.json names its rotary part and base rotary_pct / rotary_emb_base and
    leaves attention_bias out (biased: GPTNeoXConfig's default); no num_key_value_heads, and
    a stray one builds nothing in transformers' model (a KV head per query head)."""
    values = {"model_type": "gpt_neox", "vocab_size": 97, "hidden_size": 48,
              "intermediate_size": 80, "num_hidden_layers": 3, "num_attention_heads": 6,
              "rotary_pct": 0.25, "rotary_emb_base": 10000, "use_parallel_residual": True,
              "tie_word_embeddings": False}
    theirs = GPTNeoXForCausalLM(GPTNeoXConfig(**values))
    assert theirs.config.rope_parameters["partial_rotary_factor"] == 0.25
    d, m, vocab = 48, 80, 97
    block = 4 * d * d + 4 * d + 2 * d * m + m + d + 2 * 2 * d
    assert count_params(config_from_dict(values)) == 3 * block + 2 * vocab * d + 2 * d
    assert numel(theirs) == 3 * block + 2 * vocab * d + 2 * d
    stray = config_from_dict({**values, "num_key_value_heads": 2})
    assert kv_heads(stray) == stray.num_key_value_heads == 6
    assert count_params(stray) == numel(theirs)
    # nor does the config.json's check read it, 4 being no divisor of the 6 heads
    (tmp_path / "config.json").write_text(json.dumps({**values, "num_key_value_heads": 4}))
    assert count_params(config_from_dict(checked_config_json(tmp_path))) == numel(theirs)


def test_its_modules_answer_llamas_names_and_keep_their_own(tmp_path):
    """prunebench reads GPT-NeoX's modules by LLaMA's names (aliases, not submodules): the
    state dict, and so the checkpoint, keeps transformers' names, a copy's aliases are the
    copy's modules, and a block's attention replaced by surgery is the one its forward calls."""
    model = family_model("gpt_neox")
    assert model.model is model.gpt_neox and final_norm(model) is model.gpt_neox.final_layer_norm
    assert all(layer.self_attn is layer.attention for layer in model.model.layers)
    assert set(model.state_dict()) == set(GPTNeoXForCausalLM(model.config).state_dict())
    copied = copy.deepcopy(model)
    assert copied.model is copied.gpt_neox and copied.model is not model.gpt_neox
    assert copied.model.layers[0].self_attn is copied.gpt_neox.layers[0].attention
    surgery.remove_kv_groups(copied, 2, range(HEADS))
    layer = copied.gpt_neox.layers[2]
    assert isinstance(layer.attention, ZeroHeadAttention) and layer.self_attn is layer.attention
    assert "self_attn" not in layer._modules
    reloads_with_its_logits(copied, ids(), tmp_path)  # saved as m, under its own names
    reloaded = load_model(tmp_path / "m")
    assert reloaded.model is reloaded.gpt_neox  # (prunebench's loader answers LLaMA's too)


def head_rows(weight: torch.Tensor, heads: list[int]) -> torch.Tensor:
    """query_key_value's rows (or bias) of `heads`, as GPTNeoXAttention views its output:
    [heads, 3 (q, k, v), head_dim, ...]."""
    return weight.reshape(HEADS, 3, HD, *weight.shape[1:])[heads].reshape(-1, *weight.shape[1:])


@pytest.mark.parametrize("removed", [[0], [3], [1, 2], [0, 2, 3]])
def test_head_removal_keeps_each_kept_heads_q_k_v_rows_together(removed):
    """The kept query_key_value holds exactly the kept heads' [q; k; v] rows and bias entries
    in their order, `dense` their columns; and the pruned model computes what transformers'
    own dense GPTNeoXForCausalLM computes with the removed heads silenced (their `dense`
    columns zero). Slicing the rows as Phi-3's layout holds them ([all q; all k; all v]) would
    mix one head's query with another's key: its logits differ."""
    model = family_model("gpt_neox")
    kept = [h for h in range(HEADS) if h not in removed]
    attn = model.model.layers[1].self_attn
    qkv_w, qkv_b = attn.query_key_value.weight.detach().clone(), attn.query_key_value.bias.detach().clone()
    dense_w = attn.dense.weight.detach().clone()
    silenced = GPTNeoXForCausalLM(model.config).eval()
    silenced.load_state_dict(model.state_dict())
    with torch.no_grad():
        for h in removed:
            silenced.gpt_neox.layers[1].attention.dense.weight[:, h * HD:(h + 1) * HD] = 0
    surgery.remove_kv_groups(model, 1, removed)
    attn = model.model.layers[1].self_attn
    assert torch.equal(attn.query_key_value.weight, head_rows(qkv_w, kept))
    assert torch.equal(attn.query_key_value.bias, head_rows(qkv_b, kept))
    assert torch.equal(attn.dense.weight, dense_w[:, [h * HD + c for h in kept for c in range(HD)]])
    assert projections.attention_heads(attn, HD) == (len(kept), len(kept))
    assert numel(model) == count_params(model.config)
    x = ids()
    mine = logits(model, x)
    torch.testing.assert_close(mine, logits(silenced, x), rtol=0, atol=1e-5)
    # the same rows taken as [all q; all k; all v] (Phi-3's layout): another model
    wrong = copy.deepcopy(model)
    rows = [part * HEADS * HD + h * HD + c for part in range(3) for h in kept for c in range(HD)]
    with torch.no_grad():
        wrong.model.layers[1].self_attn.query_key_value.weight.copy_(qkv_w[rows])
        wrong.model.layers[1].self_attn.query_key_value.bias.copy_(qkv_b[rows])
    assert (logits(wrong, x) - mine).abs().max() > 1e-2


def test_a_uniformly_mlp_pruned_model_is_transformers_model_of_its_width():
    """MLP channels removed in every block: transformers' GPTNeoXForCausalLM built at the kept
    width, given the kept channels' rows (dense_h_to_4h and its bias) and columns
    (dense_4h_to_h) sliced by hand, computes the same logits."""
    check_a_uniformly_mlp_pruned_model(
        family_model("gpt_neox"), "gpt_neox.layers.{}.mlp.", "dense_h_to_4h", "dense_4h_to_h",
        lambda width: GPTNeoXForCausalLM(small(intermediate_size=width)))


def check_a_uniformly_mlp_pruned_model(model, mlp, up, down, theirs_of_width) -> None:
    """`model` (a family's tiny model) with a third of its MLP channels out of every block
    computes the logits of transformers' model `theirs_of_width(kept width)` given the kept
    channels' rows of `up` (and its bias, where it has one: Falcon's unbiased where `bias` is
    false) and columns of `down`, sliced by hand from the state dict (`mlp`: a block's MLP's
    name prefix, formatted with the block; also Falcon's and GPT-J's: tests/test_falcon.py,
    tests/test_gptj.py)."""
    keep = [c for c in range(WIDTH) if c % 3]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for b in range(model.config.num_hidden_layers):
        surgery.remove_channels(model, b, [c for c in range(WIDTH) if c not in keep])
        prefix = mlp.format(b)
        for key in (f"{up}.weight", f"{up}.bias"):
            if prefix + key in state:
                state[prefix + key] = state[prefix + key][keep]
        state[f"{prefix}{down}.weight"] = state[f"{prefix}{down}.weight"][:, keep]
    theirs = theirs_of_width(len(keep)).eval()
    theirs.load_state_dict(state)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("parallel", [True, False])
def test_depth_pruning_is_transformers_model_of_the_kept_blocks(parallel, tmp_path):
    """Blocks 1 and 2 removed: transformers' GPTNeoXForCausalLM of two blocks, given blocks 0
    and 3, computes the same logits; saved, the model reloads by prunebench and by
    transformers' class and both hf backends decode as transformers' generate."""
    without_blocks_1_and_2_is(
        family_model("gpt_neox", use_parallel_residual=parallel), "gpt_neox.layers",
        GPTNeoXForCausalLM(small(num_hidden_layers=2, use_parallel_residual=parallel)), tmp_path)


def without_blocks_1_and_2_is(model, blocks: str, theirs, tmp_path):
    """`model` with blocks 1 and 2 removed computes the logits of `theirs` (transformers' model
    of two blocks) given blocks 0 and 3 (`blocks`: their names' prefix); saved, it reloads by
    prunebench and by transformers' class and both hf backends decode as transformers'
    generate (also Falcon's and GPT-J's: tests/test_falcon.py, tests/test_gptj.py). Returns
    the pruned copy; `model` is left as it was."""
    renamed = {k.replace(f"{blocks}.3.", f"{blocks}.1."): v
               for k, v in model.state_dict().items()
               if not k.startswith((f"{blocks}.1.", f"{blocks}.2."))}
    theirs.eval().load_state_dict(renamed)
    pruned = remove_blocks(copy.deepcopy(model), [1, 2])
    x = ids()
    torch.testing.assert_close(logits(pruned, x), logits(theirs, x), rtol=0, atol=1e-5)
    assert count_params(pruned.config) == numel(pruned) == numel(theirs)
    # (on a copy: check_a_depth_pruned_reload_decodes_as_transformers prunes what it is given,
    # and callers pass their module-scoped model)
    check_a_depth_pruned_reload_decodes_as_transformers(copy.deepcopy(model), [1, 2],
                                                        type(theirs), tmp_path / "depth")
    return pruned


def test_a_published_folder_with_its_head_as_embed_out_loads_as_transformers_loads_it(
        tmp_path, tokenizer):  # noqa: F811
    """Pythia's hub folders name the LM head `embed_out` and the rotary part rotary_pct
    (transformers renames the head as it loads, in 5.17 and 5.25): imported and loaded by
    prunebench, the model computes transformers' logits of the same folder."""
    from prunebench.checkpoint.local_import import import_local
    from prunebench.modeling import MANIFEST

    model = family_model("gpt_neox")
    published = tmp_path / "published"
    save_model(model, tokenizer, published)
    (published / MANIFEST).unlink()
    weights = published / "model.safetensors"
    state = load_file(weights)
    state["embed_out.weight"] = state.pop("lm_head.weight")
    save_file(state, weights, metadata={"format": "pt"})
    config = json.loads((published / "config.json").read_text())
    rope = config.pop("rope_parameters", None) or {}
    config.update(rotary_pct=rope.get("partial_rotary_factor", 0.25),
                  rotary_emb_base=rope.get("rope_theta", 10000))
    config.pop("attention_bias")  # left out by Pythia's configs: biased by default
    (published / "config.json").write_text(json.dumps(config))
    theirs = in_allocated_memory(GPTNeoXForCausalLM.from_pretrained(published,
                                                                  dtype=torch.float32)).eval()
    imported = import_local(f"local:{published}", tmp_path / "resources" / "models" / "pythia")
    ours = load_model(imported)
    x = ids()
    assert torch.equal(logits(ours, x), logits(theirs, x))
    assert torch.equal(logits(ours, x), logits(model, x))


def width_pruned(model):
    """`model` (a family tests' tiny model, 128 MLP channels) with KV group 1 out of block 1,
    every KV group out of block 2 (its attention's output bias alone left: GPT-NeoX's `dense`
    bias, HyperCLOVA X's o_proj bias, which its post norm then norms) and a third of block 3's
    MLP channels out."""
    surgery.remove_kv_groups(model, 1, [1])
    surgery.remove_kv_groups(model, 2, range(kv_heads(model.config)))
    surgery.remove_channels(model, 3, range(0, WIDTH, 3))
    assert numel(model) == count_params(model.config)
    return model


@pytest.mark.parametrize("parallel", [True, False])
@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(parallel, fuse):
    model = width_pruned(family_model("gpt_neox", use_parallel_residual=parallel))
    decoder = decoder_gives_transformers_logits(model, fuse)
    assert [block.parallel for block in decoder.blocks] == [parallel] * 4
    assert all(block.ln2 is not None for block in decoder.blocks)  # two norms either way


@pytest.mark.parametrize("parallel", [True, False])
def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does(parallel):
    decodes_as_generate_does(width_pruned(family_model("gpt_neox",
                                                       use_parallel_residual=parallel)))


def _mlp_norm_as_attentions(model):
    """The parallel block's norm before the MLP given the attention's: were the decoder to
    feed the MLP the attention's norm (Cohere's and StableLM's parallel block), it would
    compute this model."""
    with torch.no_grad():
        for layer in model.model.layers:
            layer.post_attention_layernorm.load_state_dict(layer.input_layernorm.state_dict())


def _whole_heads_rotating(model):
    """Every dimension of each head rotating (rotary_pct 1): the published quarter is what
    the decoder must rotate."""
    model.config.rope_parameters["partial_rotary_factor"] = 1.0
    rotary = type(model.model.rotary_emb)(config=model.config)
    model.model.rotary_emb = rotary
    for layer in model.model.layers:  # (GPT-NeoX's `attention`; Persimmon's too:
        layer.self_attn.rotary_ndims = HD  # tests/test_persimmon_gpt_neo.py)


@pytest.mark.parametrize("change", [_mlp_norm_as_attentions, without_norm_biases,
                                    _whole_heads_rotating])
def test_the_decoder_applies_each_of_gpt_neoxs_pieces(change):
    """Each piece the decoder reproduces changes this model's logits (else the comparison
    above would not see it dropped): the MLP's own norm in the parallel block, the LayerNorms'
    biases, the rotated quarter of each head; the decoder built from the changed model
    follows it."""
    decoder_follows_the_change(family_model("gpt_neox"), change)


def test_flap_compensates_each_sublayer_of_the_parallel_block_with_its_removed_mean():
    """Attention and MLP read the block's input, each through its own norm, and their outputs
    are added once: FLAP's compensations keep every pruned block's mean output."""
    flap_keeps_each_blocks_mean_output(family_model("gpt_neox"))


def test_its_dropout_is_off_in_the_passes_that_run_in_training_mode():
    """GPTNeoXConfig's hidden_dropout (nn.Dropout on the embeddings and each sublayer's output)
    and attention_dropout act in training mode: the Taylor+ scores' and LoRA's passes turn
    them off (modeling.base_dropout_off) and restore them after."""
    model = family_model("gpt_neox", hidden_dropout=0.3, attention_dropout=0.3)
    model.gpt_neox.emb_dropout.p = 0.3
    for layer in model.gpt_neox.layers:
        layer.post_attention_dropout.p = layer.post_mlp_dropout.p = 0.3
        layer.attention.attention_dropout = 0.3
    with dropout_turned_off(model, family_model("gpt_neox")):
        pass
    assert model.gpt_neox.layers[0].post_mlp_dropout.p == 0.3
    assert model.gpt_neox.layers[0].attention.attention_dropout == 0.3


def test_lora_adapts_its_own_modules_by_llamas_targets():
    lora_adapts_query_key_value_dense_and_the_mlp(family_model("gpt_neox"), "gpt_neox.layers",
                                                  "attention")


def lora_adapts_query_key_value_dense_and_the_mlp(model, blocks: str, attention: str) -> None:
    """The default targets adapt each block's query_key_value (q, k and v at once), dense,
    dense_h_to_4h and dense_4h_to_h, by the family's names (`blocks`: the blocks' own prefix,
    `attention`: a block's attention; also Falcon's, tests/test_falcon.py); naming some of
    q / k / v alone is refused, as for Phi-3's packed module."""
    chosen, skipped = lora_target_names(model, list(TARGETS))
    own = (f"{attention}.query_key_value", f"{attention}.dense", "mlp.dense_h_to_4h",
           "mlp.dense_4h_to_h")
    assert sorted(chosen) == sorted(f"{blocks}.{b}.{name}" for b in range(4)
                                    for name in own) and not skipped
    with pytest.raises(Exception, match="packs q_proj, k_proj, v_proj into one qkv_proj"):
        lora_target_names(model, ["q_proj", "v_proj"])


def test_a_width_pruned_config_json_counts_without_torch(tmp_path):
    check_a_width_pruned_config_json_counts_without_torch("gpt_neox", tmp_path)


def check_a_width_pruned_config_json_counts_without_torch(name, tmp_path):
    """The family `name`'s tiny model, `width_pruned`, saved: its config.json counts it
    without torch, and it reloads with its logits and each block's heads (also GPT-J's:
    tests/test_gptj.py)."""
    check_saved_counts_and_reloads(width_pruned(family_model(name)), tmp_path, [4, 3, 0, 4])


def check_saved_counts_and_reloads(model, tmp_path, heads, head_dim=HD):
    """`model` saved: its config.json counts it without torch, and it reloads with its logits
    and `heads`, each block's query heads of `head_dim` (also CodeGen's width methods:
    tests/test_codegen)."""
    save_model(model, None, tmp_path / "m")
    assert count_params(config_from_json(tmp_path / "m" / "config.json")) == numel(model)
    reloaded = load_model(tmp_path / "m")
    x = ids()
    assert torch.equal(logits(reloaded, x), logits(model, x))
    assert [projections.attention_heads(layer.self_attn, head_dim)[0]
            for layer in reloaded.model.layers] == heads


def test_the_known_shapes_count_by_hand_and_build_their_family():
    """Pythia-6.9B, Pythia-12B and GPT-NeoX-20B written out by hand: query_key_value and
    dense with biases, an ungated MLP with biases, two LayerNorms a block with weights and
    biases, untied embeddings and head, a final LayerNorm."""
    for name, (d, m, blocks, heads, vocab) in {
            "pythia-6.9b": (4096, 16384, 32, 32, 50432),
            "pythia-12b": (5120, 20480, 36, 40, 50688),
            "gpt-neox-20b": (6144, 24576, 44, 64, 50432)}.items():
        block = (3 * d * d + 3 * d) + (d * d + d) + (2 * d * m + m + d) + 2 * 2 * d
        by_hand = blocks * block + 2 * vocab * d + 2 * d
        assert by_hand == PUBLISHED[name]
        assert count_params(config_from_dict(ARCHITECTURES[name])) == by_hand
        built = architecture_config(name)
        assert type(built).__name__ == "GPTNeoXConfig" and built.num_attention_heads == heads
        assert built.rope_parameters["partial_rotary_factor"] == 0.25
        assert built.use_parallel_residual and built.attention_bias
        assert count_params(built) == count_params_meta(built) == by_hand


def test_a_known_shape_builds_transformers_model_on_meta():
    model = build_model(architecture_config("pythia-6.9b"), device="meta")
    assert model.model.layers[0].self_attn.query_key_value.out_features == 3 * 4096
    assert numel(model) == PUBLISHED["pythia-6.9b"]


@pytest.mark.parametrize("repo, shape", [
    ("EleutherAI/pythia-6.9b", "pythia-6.9b"),
    ("EleutherAI/pythia-6.9b-deduped", "pythia-6.9b"),
    ("EleutherAI/pythia-12b", "pythia-12b"),
    ("EleutherAI/pythia-12b-deduped", "pythia-12b"),
    ("EleutherAI/gpt-neox-20b", "gpt-neox-20b"),
    # shapes not given here: the smaller Pythia models
    ("EleutherAI/pythia-1.4b", None),
    ("EleutherAI/pythia-160m", None),
])
def test_the_hub_ids_name_their_known_shape_and_no_other(repo, shape):
    assert known_shape_of(repo) == shape


def test_a_tied_model_saves_its_embedding_once_and_reloads_tied(tmp_path):
    """A config tying the head to the embedding (no published GPT-NeoX does): saved under the
    embedding's name alone (gpt_neox.embed_in.weight), reloaded tied by prunebench and by
    transformers' class, the same logits."""
    model = family_model("gpt_neox", tie_word_embeddings=True)
    assert model.lm_head.weight is model.gpt_neox.embed_in.weight
    x = ids()
    reloaded_logits = reloads_with_its_logits(model, x, tmp_path)
    assert set(load_file(tmp_path / "m" / "model.safetensors")) >= {"gpt_neox.embed_in.weight"}
    assert "lm_head.weight" not in load_file(tmp_path / "m" / "model.safetensors")
    ours = load_model(tmp_path / "m")
    assert ours.lm_head.weight is ours.gpt_neox.embed_in.weight
    theirs = GPTNeoXForCausalLM.from_pretrained(tmp_path / "m", dtype=torch.float32).eval()
    torch.testing.assert_close(logits(theirs, x), reloaded_logits, rtol=0, atol=1e-5)
