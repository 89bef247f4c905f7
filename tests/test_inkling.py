"""Inkling (inkling_text, InklingForCausalLM: Thinking Machines' Inkling's language model),
transformers 5.25 on (Family.min_transformers: 5.17 to 5.22 route its experts in the model's
dtype, and 5.17 to 5.24's generate with a static cache fails on its windowed blocks): the
pieces of its own, as a mixture of experts (depth pruning, the hf and hf_static backends).

Each block attends with heads of its own kind: the blocks layer_types names "hybrid_sliding"
(from local_layer_ids) within a window with the swa_* heads, KV heads and head_dim, the others
fully with the config's; a relative-position bias mixed by r_proj from a table of d_rel rows
(the window's length or rel_extent); short convolutions on the keys, the values and both
sublayers' outputs (their states in the cache under the block's index); a dense MLP or a
sigmoid router over routed and shared experts; a normed embedding; an untied head whose logits
are cut to unpadded_vocab_size. The release refusal and its reason shown; counts against
transformers' meta model, from config.json alone (its published keys too) and one block by
hand; depth pruning equal to transformers' model of the kept blocks (layer_types,
mlp_layer_types and local_layer_ids renumbered); a depth-pruned reload decoded by hf /
hf_static as transformers' generate (the short convolutions' cache entries renumbered); the
KV-cache figure of each block's own heads, and the bytes a step reads (its short convolutions'
float32 states too) equal to what transformers' cache holds; the refusals (config.json kinds, the multimodal
wrapper, whose recipe in the refusal computes the whole model's logits on text).
tests/test_families.py runs the shared per-family tests on it."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from prunebench import PrunebenchError
from prunebench.checkpoint import param_count
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, kv_bytes_of, layer_shapes,
                                               transformers_release_problem)
from prunebench.modeling import build_model, remove_blocks
from block_helpers import kept_blocks_state
from test_exaone_internlm3 import check_refused_below_its_release
from test_families import _write_config, family_model, ids, logits, numel
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "inkling_text"
# Four blocks of 32: blocks 1 and 2 windowed (2 heads on 1 KV head of 16), 0 and 3 full (4
# heads on 2 KV heads of 8); block 0 dense, then 2 of 4 experts and 2 shared experts.
TINY = dict(vocab_size=128, unpadded_vocab_size=120, hidden_size=32, intermediate_size=40,
            num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
            swa_num_attention_heads=2, swa_num_key_value_heads=1, swa_head_dim=16,
            sliding_window_size=8, d_rel=4, rel_extent=16, local_layer_ids=[1, 2],
            mlp_layer_types=["dense", "sparse", "sparse", "sparse"], moe_intermediate_size=16,
            n_routed_experts=4, num_experts_per_tok=2, n_shared_experts=2,
            max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0)


def needs() -> None:
    """Skip where this transformers predates the family (the refusal's words as the reason)."""
    if problem := transformers_release_problem(NAME):
        pytest.skip(problem)


def classes():
    needs()
    from transformers import InklingForCausalLM, InklingTextConfig

    return InklingTextConfig, InklingForCausalLM


# ------------------------------------------------------------------ the release it needs

def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        tmp_path, monkeypatch):
    check_refused_below_its_release(NAME, "5.25.0", {"model_type": NAME, **TINY}, tmp_path,
                                    monkeypatch)
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.24.0")
    assert "static cache fails on its windowed blocks" in transformers_release_problem(NAME)


def test_the_release_it_needs_routes_in_float32():
    """The reason is the installed class's: its router computes under autocast switched off
    (maybe_autocast, float32 scores) exactly where the family is not refused (5.25), in the
    model's dtype where it is (5.17)."""
    from transformers.models.inkling import modeling_inkling

    assert hasattr(modeling_inkling, "maybe_autocast") == (
        transformers_release_problem(NAME) is None)


# ------------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [{}, {"local_layer_ids": None, "mlp_layer_types": None,
                                         "dense_mlp_idx": 2, "n_shared_experts": 1}])
def test_counts_equal_transformers_parameters(values):
    """count_params of the config and of its config.json read without a class (layer_types
    and mlp_layer_types left out, derived as InklingTextConfig derives them: from
    local_layer_ids, every block but each sixth windowed by default; dense_mlp_idx's dense
    blocks first) equals the meta model's parameters."""
    config_class, model_class = classes()
    config = config_class(**{**TINY, **values})
    with torch.device("meta"):
        reference = numel(model_class(config))
    assert count_params(config) == reference
    raw = {k: v for k, v in config.to_dict().items() if k not in ("dtype", "layer_types")}
    if "dense_mlp_idx" in values:  # (InklingTextConfig takes it, keeping the kinds it gives)
        raw = {**{k: v for k, v in raw.items() if k != "mlp_layer_types"}, "dense_mlp_idx": 2}
    ours = config_from_dict(raw)
    assert ours.layer_types == config.layer_types
    assert ours.mlp_layer_types == config.mlp_layer_types
    assert count_params(ours) == reference


def test_a_published_style_config_json_is_counted_as_transformers_reads_it():
    """The published configs' keys (sconv_kernel_size, sliding_window_size, model_max_length;
    dense_intermediate_size, with which intermediate_size is the experts' width) read as
    InklingTextConfig reads them."""
    config_class, model_class = classes()
    raw = {**{k: v for k, v in TINY.items() if k not in ("mlp_layer_types",
                                                         "moe_intermediate_size")},
           "model_type": NAME, "sconv_kernel_size": 3, "model_max_length": 96,
           "intermediate_size": 24, "dense_intermediate_size": 48, "dense_mlp_idx": 1}
    config = config_class(**{k: v for k, v in raw.items() if k != "model_type"})
    assert (config.conv_kernel_size, config.moe_intermediate_size) == (3, 24)
    with torch.device("meta"):
        reference = numel(model_class(config))
    ours = config_from_dict(raw)
    assert (ours.max_position_embeddings, ours.intermediate_size) == (96, 48)
    assert count_params(ours) == reference


def test_one_block_counted_by_hand():
    """A windowed sparse block: q / o 32 x 32 each, k / v 32 x 16 each, r_proj 32 -> 2 x 4,
    its table 4 x 8 (the window), q / k norms 16 each, key and value convolutions 16 x 4
    each, output convolutions 32 x 4 each, two norms, the router (4 + 2) x 32 and its gain,
    4 experts and 2 shared experts of 3 x 32 x 16. A full block's table is 4 x 16."""
    config_class, model_class = classes()
    config = config_class(**TINY)
    shapes = layer_shapes(config)
    attention = 2 * 32 * 32 + 2 * 32 * 16 + 32 * 8 + 4 * 8 + 2 * 16 + 2 * 16 * 4
    own = 2 * 32 * 4 + 2 * 32 + 1
    experts = 6 * 32 + 6 * 3 * 32 * 16
    assert param_count.block_param_count(config, shapes[1]) == attention + own + experts
    model = model_class(config)
    assert numel(model.model.layers[1]) == attention + own + experts
    assert model.model.layers[3].self_attn.rel_logits_proj.proj.shape == (4, 16)


# ------------------------------------------------------------------------ its own pieces

@pytest.fixture(scope="module")
def dense():
    needs()
    torch.manual_seed(0)
    return family_model(NAME).eval()


def test_logits_cover_the_unpadded_vocabulary_and_the_head_every_row():
    """The head holds vocab_size rows (counted), its logits unpadded_vocab_size columns."""
    config_class, model_class = classes()
    model = model_class(config_class(**TINY)).eval()
    assert model.lm_head.weight.shape[0] == model.config.vocab_size == 128
    assert logits(model, ids(2, 10)).shape[-1] == model.config.unpadded_vocab_size == 120
    assert count_params(model.config) == numel(model)


def test_an_id_past_the_unpadded_vocabulary_is_refused_before_it_is_scored(small_tokenizer):
    """An id the embedding reads but the cut logits do not cover (120 to 127: the head's
    padded rows) is refused naming unpadded_vocab_size, by perplexity before its first window
    and by a zero-shot request, where the loss and lm-eval's gather fail on it (IndexError);
    ids below it score."""
    from lm_eval.api.instance import Instance

    from prunebench import zeroshot
    from prunebench.evaluate import perplexity

    config_class, model_class = classes()
    torch.manual_seed(0)
    model = model_class(config_class(**TINY)).eval()
    stream = ids(1, 40)[0] % 120
    assert torch.isfinite(torch.tensor(perplexity(model, stream, 8)["perplexity"]))
    stream[17] = 125
    past = "token id 125, which the model reads but does not score: its logits cover the first 120"
    with pytest.raises(PrunebenchError, match=past + r" ids alone \(unpadded_vocab_size"):
        perplexity(model, stream, 8)
    with pytest.raises(IndexError, match="out of bounds"):  # what the check spares
        torch.nn.functional.cross_entropy(logits(model, stream[None])[0], stream)
    lm = zeroshot.language_model(model, small_tokenizer, 1, add_bos_token=False,
                                 encode=lambda text: [int(word) for word in text.split()])
    with pytest.raises(PrunebenchError, match=rf"answer ' 61 125'\) holds {past}"):
        lm.loglikelihood([Instance("loglikelihood", {}, ("5 17", " 61 125"), 0)],
                         disable_tqdm=True)


def test_the_kv_cache_figure_is_each_blocks_own_heads(dense):
    """Blocks 0 and 3 cache 2 KV heads of 16, blocks 1 and 2 one of 32 (their swa_* values):
    keys and values a position, float32."""
    assert kv_bytes_of(dense.config, layer_shapes(dense.config), 4) == (
        2 * (2 * 2 * 16) + 2 * (2 * 1 * 32)) * 4


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_state_a_step_reads_is_what_transformers_cache_holds(dense, dtype):
    """kv_cache_bytes after a prefill and a decode step, within the 8-token window and past
    it, and with block 1 removed: each block's keys and values of its own heads (a windowed
    block's window - 1 positions transformers keeps beside the step's own) and its four short
    convolutions' states (4 taps of 2 x 32 key / value channels and 2 x 64 hidden ones), float32
    in any dtype: the tensors transformers' cache holds (its conv states left out, it would
    not)."""
    from prunebench.benchmark.floors import kv_cache_bytes
    from prunebench.modeling import cast_floating
    from test_qwen3_next import cache_bytes

    for drop in ([], [1]):
        model = cast_floating(remove_blocks(copy.deepcopy(dense), drop), dtype)
        for length in (6, 12):
            with torch.no_grad():
                cache = model(ids(1, length - 1), use_cache=True).past_key_values
                cache = model(ids(1, 1), past_key_values=cache, use_cache=True).past_key_values
            convs = [state for layer in cache.layers for state in layer.conv_states.values()]
            assert len(convs) == 4 * model.config.num_hidden_layers
            assert {state.dtype for state in convs} == {torch.float32}
            windowed = model.config.layer_types.count("hybrid_sliding") if length > 8 else 0
            step = windowed * 2 * 32 * dtype.itemsize  # (the step's own key and value)
            assert kv_cache_bytes(model.config, 1, length, dtype) == cache_bytes(cache) + step


# ------------------------------------------------------------------------ depth pruning

@pytest.mark.parametrize("drop", [[1], [0, 2]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(dense, drop):
    """Each kept block with its kind (layer_types, local_layer_ids renumbered) and its MLP kind
    under its new index: the logits are transformers' model's of the kept blocks, whose count
    it has."""
    model = remove_blocks(copy.deepcopy(dense), drop)
    keep = [b for b in range(4) if b not in drop]
    kinds = ["hybrid", "hybrid_sliding", "hybrid_sliding", "hybrid"]
    assert model.config.layer_types == [kinds[b] for b in keep]
    assert model.config.local_layer_ids == [i for i, b in enumerate(keep) if b in (1, 2)]
    assert model.config.mlp_layer_types == [["dense", "sparse", "sparse", "sparse"][b]
                                            for b in keep]
    values = {**dense.config.to_dict(), "num_hidden_layers": len(keep),
              "mlp_layer_types": model.config.mlp_layer_types,
              "local_layer_ids": model.config.local_layer_ids, "layer_types": None}
    config_class, model_class = classes()
    with torch.device("meta"):
        reference = model_class(config_class.from_dict(values))
    reference.load_state_dict(kept_blocks_state(dense, keep), strict=True, assign=True)
    x = ids(2, 24)
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-5)
    assert numel(model) == count_params(model.config) == numel(reference)


def test_a_depth_pruned_reload_decodes_as_transformers(tmp_path):
    """Saved with blocks 1 and 3 removed, loaded by prunebench and by InklingForCausalLM: the
    hf and hf_static backends' tokens are transformers' generate's (each kept block's short
    convolutions read their states under its new index: under the old one block 2's would
    lie past the cache's blocks); its config.json reads back, without transformers, as the
    model."""
    _, model_class = classes()
    model = family_model(NAME)
    check_a_depth_pruned_reload_decodes_as_transformers(model, [1, 3], model_class,
                                                        tmp_path / "pruned")
    assert [layer.mlp_sconv.layer_idx for layer in model.model.layers] == [0, 1]
    raw = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert (raw["layer_types"], raw["local_layer_ids"]) == (["hybrid", "hybrid_sliding"], [1])
    assert count_params(config_from_dict(raw)) == numel(model)


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("change, match", [
    ({"layer_types": ["hybrid", "sliding_attention", "hybrid", "hybrid"]},
     "'hybrid_sliding' ones only"),
    ({"mlp_layer_types": ["dense", "moe", "sparse", "sparse"]}, "'sparse' only"),
    ({"mlp_layer_types": ["dense", "sparse"]}, "MLP kinds"),
])
def test_a_config_json_transformers_does_not_build_as_it_says_is_refused(change, match,
                                                                          tmp_path):
    """Read without transformers (any release): block or MLP kinds InklingTextModel does not
    build, or not one a block."""
    folder = _write_config(tmp_path / "m", {"model_type": NAME, **TINY, **change})
    with pytest.raises(PrunebenchError, match=match):
        checked_config_json(folder)


def test_the_multimodal_wrapper_is_refused_and_its_recipe_computes_the_whole_models_logits(
        tmp_path):
    """inkling_mm_model (InklingForConditionalGeneration) refused when read and when built,
    naming what to do; done so (InklingForCausalLM of its text_config holding its language
    model's weights and LM head), the language model computes on text the whole model's
    logits."""
    folder = _write_config(tmp_path / "m", {"model_type": "inkling_mm_model",
                                            "text_config": {**TINY}})
    words = (r"model_type 'inkling_mm_model' is not supported: it is Thinking Machines' "
             r"Inkling.*prunebench reads the folder it writes \(model_type inkling_text\)")
    with pytest.raises(PrunebenchError, match=words):
        checked_config_json(folder)
    _, model_class = classes()
    from transformers import InklingConfig, InklingForConditionalGeneration

    config = InklingConfig(text_config=TINY, vision_config={"hidden_size": 16,
                                                            "num_hidden_layers": 1,
                                                            "num_attention_heads": 2},
                           audio_config={"n_mel_bins": 4, "mel_vocab_size": 8})
    with pytest.raises(PrunebenchError, match=words):
        build_model(config)
    torch.manual_seed(0)
    whole = InklingForConditionalGeneration(config).eval()
    text = model_class(config.text_config).eval()
    state = {k.replace("model.language_model.", "model."): v
             for k, v in whole.state_dict().items()
             if k.startswith(("model.language_model.", "lm_head."))}
    text.load_state_dict(state, strict=True)
    x = ids(2, 10)
    with torch.no_grad():
        torch.testing.assert_close(text(x).logits, whole(input_ids=x).logits, rtol=0, atol=0)
