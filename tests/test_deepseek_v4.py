"""DeepSeek-V4 (deepseek_v4, DeepseekV4ForCausalLM), transformers 5.24 on (Family.min_transformers:
5.17 to 5.23 build its hyper-connections, norms and sinks in the model's dtype): the pieces of its
own, as a mixture of experts (depth pruning, the hf backend).

Queries through q_lora_rank, one key-value head read as keys and values, a grouped output
projection and sinks; a compressor by each block's layer_types (none in a sliding block, HCA's,
CSA's with a lightning indexer of its own), each keeping its windows and compressed entries in a
cache layer of its own under its attention's layer_idx; hc_mult residual streams mixed by each
block's hyper-connections and collapsed by hc_head; experts routed by top k or by the token's id
(mlp_layer_types "hash_moe": tid2eid). The release refusal and its reason shown; counts against
transformers' meta models and by hand, config.json read without a class; depth pruning equal to
transformers' model of the kept blocks (layer_types, mlp_layer_types and the attentions' cache
indices renumbered, each shown to matter); a depth-pruned reload decoded by hf as transformers'
generate, hf_static refused (transformers' static generate fails); LoRA on its attention's
linear layers (q_a_proj, q_b_proj, kv_proj, o_b_proj: o_a_proj shown not to wrap) trained and
merged, its targets it cannot adapt refused; the cache figures equal to
what its cache layers hold and grow by (one key-value head a block, whatever config.json says);
the config.json refusals.
tests/test_families.py runs the shared per-family tests on it."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from prunebench import PrunebenchError
from prunebench.checkpoint import param_count
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, hyper_connection_params,
                                               hyper_head_params, transformers_release_problem)
from prunebench.modeling import (cast_floating, config_class, load_model, remove_blocks,
                                 save_model)
from block_helpers import kept_blocks_state
from test_deepseek import check_lora_refused_at_start_and_by_the_job, check_lora_trains_and_merges
from test_exaone_internlm3 import check_refused_below_its_release
from test_hy_v4 import check_shortgpt_reads_the_streams_concatenated
from test_qwen3_next import check_hf_decodes_as_generate
from test_families import (FAMILIES, _write_config, family_model, ids, in_allocated_memory,
                           logits, numel)

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "deepseek_v4"
KINDS = ["sliding_attention", "compressed_sparse_attention", "heavily_compressed_attention",
         "compressed_sparse_attention"]
MLPS = ["hash_moe", "hash_moe", "moe", "moe"]


def needs() -> None:
    """Skip where this transformers predates the family (the refusal's words as the reason)."""
    if problem := transformers_release_problem(NAME):
        pytest.skip(problem)


def tiny_values() -> dict:
    """tests/test_families.py's tiny config.json values (without building a class)."""
    return {"model_type": NAME, "hidden_size": 32, "num_hidden_layers": 4,
            "num_attention_heads": 4, "head_dim": 16, "vocab_size": 128,
            "moe_intermediate_size": 16, "n_routed_experts": 4, "num_experts_per_tok": 2,
            "q_lora_rank": 16, "o_groups": 2, "o_lora_rank": 8, "sliding_window": 4,
            "index_n_heads": 2, "index_head_dim": 8, "index_topk": 2, "hc_mult": 2,
            "compress_ratios": [0, 4, 128, 4], "compress_rate_csa": 2, "compress_rate_hca": 4,
            "num_hash_layers": 2, "qk_rope_head_dim": 8, "max_position_embeddings": 256}


# ------------------------------------------------------------------ the release it needs

def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        tmp_path, monkeypatch):
    check_refused_below_its_release(NAME, "5.24.0", tiny_values(), tmp_path, monkeypatch)
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.23.0")
    assert "hyper-connections, norms, sinks" in transformers_release_problem(NAME)


def test_the_release_it_needs_is_the_first_building_its_hyper_connections_in_float32():
    """The reason is the installed class's: a hyper-connection built under a bfloat16 default
    is float32 exactly where the family is not refused (5.24 on), bfloat16 where it is (5.17)."""
    import transformers
    from transformers.models.deepseek_v4 import modeling_deepseek_v4

    config = transformers.DeepseekV4Config.from_dict(tiny_values())
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        layer = modeling_deepseek_v4.DeepseekV4DecoderLayer(config, 0)
    finally:
        torch.set_default_dtype(before)
    assert (layer.attn_hc.fn.dtype == torch.float32) == (
        transformers_release_problem(NAME) is None)


# ------------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [{}, {"hc_mult": 3, "o_groups": 4, "tie_word_embeddings": True},
                                    {"compress_ratios": None, "num_hash_layers": None,
                                     "num_hidden_layers": 5}])
def test_counts_equal_transformers_parameters(values):
    """count_params of the config and of its config.json read without a class (compress_ratios,
    compress_rate_csa / _hca and num_hash_layers folded in as DeepseekV4Config folds them, or
    its defaults: HCA, HCA, then CSA and HCA in turn; three hash blocks) equals the meta
    model's parameters."""
    needs()
    raw = {k: v for k, v in {**tiny_values(), **values}.items() if v is not None}
    config = config_class(NAME)(**{k: v for k, v in raw.items() if k != "model_type"})
    with torch.device("meta"):
        reference = numel(param_count_model(config))
    assert count_params(config) == reference
    ours = config_from_dict(raw)
    assert ours.layer_types == config.layer_types
    assert ours.mlp_layer_types == config.mlp_layer_types
    assert ours.compress_rates == config.compress_rates
    assert count_params(ours) == reference


def param_count_model(config):
    from transformers import DeepseekV4ForCausalLM

    return DeepseekV4ForCausalLM(config)


def test_the_published_shape_by_its_class_defaults_is_counted():
    """DeepseekV4Config's defaults (V4-Flash's shape: 43 blocks, 256 experts): 284,325,869,015
    parameters, the meta model's, and config_from_dict's of a config.json naming the type
    alone."""
    needs()
    with torch.device("meta"):
        reference = numel(param_count_model(config_class(NAME)()))
    assert reference == 284_325_869_015
    assert count_params(config_from_dict({"model_type": NAME})) == reference


def test_one_key_value_head_a_block_whatever_config_json_says():
    """DeepseekV4Config keeps a config.json's num_key_value_heads (3 here), which its attention
    never reads (one kv_proj of head_dim); config_from_dict keeps it too, and `kv_heads`, the
    one place that says a block's KV heads, gives each block one: the shapes, counts and
    cache figures of both configs are those of the config giving 1."""
    needs()
    from prunebench.benchmark.floors import kv_cache_bytes
    from prunebench.checkpoint.param_count import kv_bytes_of, layer_shapes

    values = {**tiny_values(), "num_attention_heads": 6, "num_key_value_heads": 3}
    config = config_class(NAME)(**{k: v for k, v in values.items() if k != "model_type"})
    assert config.num_key_value_heads == 3
    with torch.device("meta"):
        attention = param_count_model(config).model.layers[0].self_attn
    assert attention.kv_proj.out_features == 16
    one = config_from_dict({**values, "num_key_value_heads": 1})
    for each in (config, config_from_dict(values)):
        assert [s["num_key_value_heads"] for s in layer_shapes(each)] == [1] * 4
        assert count_params(each) == count_params(one)
        assert kv_bytes_of(each, layer_shapes(each), 2) == kv_bytes_of(one, layer_shapes(one), 2)
        assert kv_cache_bytes(each, 1, 9, torch.float32) == kv_cache_bytes(one, 1, 9,
                                                                           torch.float32)


def test_the_blocks_pieces_are_counted_by_hand_and_the_streams_held_in_float32():
    """One hyper-connection: fn (2 + 2) x 2 rows over the 2 streams' 2 x 32 values, base 8,
    scale 3; hc_head: 2 x 64, 2 and 1; the HCA block's compressor kv_proj and gate_proj
    (32 -> 16), position_bias 4 x 16, kv_norm 16; the CSA block's twice as wide, rate 2, and
    its indexer's of 8 (the same of 2 x 8, q_b_proj 16 -> 2 x 8, weights_proj 32 -> 2). The
    hyper-connections and hc_head stay float32 in a bfloat16 model."""
    needs()
    model = cast_floating(family_model(NAME), torch.bfloat16)
    config = model.config
    assert hyper_connection_params(config) == 8 * 64 + 8 + 3 == 523
    assert hyper_head_params(config) == 2 * 64 + 2 + 1 == 131
    hca = model.model.layers[2].self_attn.compressor
    assert numel(hca) == 2 * 32 * 16 + 4 * 16 + 16
    csa = model.model.layers[1].self_attn.compressor
    assert numel(csa.indexer) == 2 * 32 * 16 + 2 * 16 + 8 + 16 * 16 + 32 * 2
    assert numel(csa) - numel(csa.indexer) == 2 * 32 * 32 + 2 * 32 + 16
    assert model.model.layers[0].self_attn.compressor is None
    block = model.model.layers[0]
    for hc in (block.attn_hc, block.ffn_hc, model.model.hc_head):
        assert {p.dtype for p in hc.parameters()} == {torch.float32}
    assert block.self_attn.q_b_proj.weight.dtype == torch.bfloat16


# ------------------------------------------------------------------------ depth pruning

@pytest.fixture(scope="module")
def dense():
    """The tiny model, its hash blocks routing each token by a table of its own (transformers
    initialises tid2eid to zeros: every token to expert 0)."""
    needs()
    model = family_model(NAME).eval()
    g = torch.Generator().manual_seed(3)
    for layer in model.model.layers:
        if layer.mlp.is_hash:
            table = layer.mlp.gate.tid2eid
            table.copy_(torch.stack([torch.randperm(4, generator=g)[:2]
                                     for _ in range(table.shape[0])]))
    return model


def reference(dense, keep, **changes):
    """transformers' model of the blocks `keep` of `dense` (float32), from the pruned config's
    values (`changes` replacing them), holding exactly their weights."""
    from transformers import DeepseekV4ForCausalLM

    values = {**dense.config.to_dict(), "num_hidden_layers": len(keep),
              "layer_types": [KINDS[b] for b in keep],
              "mlp_layer_types": [MLPS[b] for b in keep], **changes}
    model = DeepseekV4ForCausalLM(config_class(NAME).from_dict(values)).eval()
    model.load_state_dict(kept_blocks_state(dense, keep), strict=True)
    return model


@pytest.mark.parametrize("drop", [[0], [1, 2], [2, 3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(dense, drop):
    """Each kept block with its own hyper-connections, compressor and router under its new
    index (layer_types, mlp_layer_types renumbered; each attention's layer_idx, under which its
    compressor and indexer keep their cache layer): the logits, with and without a cache, are
    transformers' model's of the kept blocks, whose count it has."""
    model = remove_blocks(copy.deepcopy(dense), drop)
    keep = [b for b in range(4) if b not in drop]
    assert model.config.layer_types == [KINDS[b] for b in keep]
    assert model.config.mlp_layer_types == [MLPS[b] for b in keep]
    assert [layer.self_attn.layer_idx for layer in model.model.layers] == list(range(len(keep)))
    theirs = reference(dense, keep)
    x = ids(2, 13)
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)
    steps = []
    for each in (model, theirs):  # (a prefill into the cache, then a step: the compressors'
        with torch.no_grad():     # states in their cache layers)
            cache = each(input_ids=x[:, :9], use_cache=True).past_key_values
            steps.append(each(input_ids=x[:, 9:10], past_key_values=cache).logits)
    torch.testing.assert_close(steps[0], steps[1], rtol=0, atol=1e-5)
    assert numel(model) == count_params(model.config) == numel(theirs)


def test_the_kind_lists_are_needed_renumbered(dense):
    """The kept blocks' kinds under their old indices (blocks 2, 3 kept, the lists cut instead
    of renumbered) build other compressors and routers: transformers' model then cannot hold
    the kept blocks' weights."""
    keep = [2, 3]
    with pytest.raises(RuntimeError, match="compressor|tid2eid"):
        reference(dense, keep, layer_types=KINDS[:2])
    with pytest.raises(RuntimeError, match="tid2eid"):
        reference(dense, keep, mlp_layer_types=MLPS[:2])


def test_the_cache_index_is_needed_renumbered(dense):
    """Left at its old index, a kept attention reads another block's cache layer (block 2's
    HCA attention, left second, the CSA layer of the last block): a cached step fails or
    computes other logits than transformers' model of the kept blocks."""
    model = remove_blocks(copy.deepcopy(dense), [0, 1])
    theirs = reference(dense, [2, 3])
    model.model.layers[0].self_attn.layer_idx = 2 - 1  # (a stale index one past its own)
    x = ids(1, 10)
    with torch.no_grad():
        full = theirs(input_ids=x, use_cache=False).logits[:, -1:]
        try:
            cache = model(input_ids=x[:, :9], use_cache=True).past_key_values
            step = model(input_ids=x[:, 9:], past_key_values=cache).logits
        except (AttributeError, KeyError, IndexError, RuntimeError, TypeError):
            return
    assert not torch.allclose(step, full, atol=1e-3)


def test_the_hash_routers_route_by_the_token_id(dense):
    """Another tid2eid table in a hash block (the same weights otherwise) gives other logits:
    the table travels with its block and is saved with it (a persistent buffer)."""
    model = copy.deepcopy(dense)
    table = model.model.layers[1].mlp.gate.tid2eid
    table.copy_(table.flip(-1).roll(1, dims=0))
    x = ids(2, 10)
    assert not torch.allclose(logits(model, x), logits(dense, x), atol=1e-4)
    assert "model.layers.1.mlp.gate.tid2eid" in model.state_dict()


def test_a_depth_pruned_reload_decodes_as_transformers(tmp_path):
    """Saved with blocks 1 and 2 removed, loaded by prunebench and by DeepseekV4ForCausalLM:
    the hf backend's tokens are transformers' generate's (its cached steps: transformers' own
    model of these blocks, decoding without a cache, may differ where the indexer's choice
    does); its config.json reads back, without transformers, as the model."""
    from transformers import DeepseekV4ForCausalLM

    needs()
    model = remove_blocks(family_model(NAME), [1, 2])
    save_model(model, None, tmp_path / "pruned")
    ours = load_model(tmp_path / "pruned")
    theirs = in_allocated_memory(DeepseekV4ForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    check_hf_decodes_as_generate(ours, theirs, 8)
    raw = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert raw["layer_types"] == [KINDS[0], KINDS[3]]
    assert raw["mlp_layer_types"] == [MLPS[0], MLPS[3]]
    assert count_params(config_from_dict(raw)) == numel(model)


def test_hf_static_is_refused_as_transformers_static_generate_fails():
    """transformers' generate with a static cache cannot build the compressors' cache layers
    (KeyError 'compressed_sparse_attention'): refused by the runner and at the start."""
    from prunebench.benchmark import runners
    from prunebench.checkpoint.param_count import own_cache_static_problem

    needs()
    model = family_model(NAME).eval()
    with pytest.raises(KeyError, match="compressed_sparse_attention"):
        model.generate(ids(1, 6), max_new_tokens=2, do_sample=False,
                       cache_implementation="static")
    with pytest.raises(PrunebenchError, match="hf_static backend cannot run a DeepSeek-V4"):
        runners.HFStaticRunner(model, 2)
    assert "DeepseekV4CSACache" in own_cache_static_problem(FAMILIES[NAME]())


# -------------------------------------------------------------------------------- LoRA

ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
# The linear layers of a block's attention that LoRA's attention targets adapt, in order.
ADAPTED = ["q_a_proj", "q_b_proj", "kv_proj", "o_b_proj"]


def test_lora_adapts_the_attentions_linear_layers_trains_and_merges(dense):
    """q_proj, k_proj, v_proj and o_proj (the other mixtures of experts' targets) adapt every
    block's q_a_proj and q_b_proj, its one key-value head's kv_proj and o_b_proj, no
    compressor's or indexer's projection, no o_a_proj, no expert: every adapter is on the
    forward path, an optimizer step changes the logits, and the merged model computes the
    adapted one's logits, a plain DeepseekV4ForCausalLM holding base + alpha / r x B @ A."""
    check_lora_trains_and_merges(dense, ATTENTION, [f"model.layers.{b}.self_attn.{m}"
                                                    for b in range(4) for m in ADAPTED])


def test_o_a_proj_is_left_out_as_peft_cannot_wrap_a_grouped_linear(dense):
    """o_a_proj (DeepseekV4GroupedLinear: one group's rows applied to each of o_groups groups)
    is an nn.Linear to peft, whose adapter reads each group's input and gives every group's
    outputs: the adapted model fails (o_groups 2), so no target adapts it."""
    from peft import LoraConfig, get_peft_model

    model = copy.deepcopy(dense)
    target = "model.layers.0.self_attn.o_a_proj"
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=[target],
                                                  init_lora_weights=False))
    with pytest.raises(RuntimeError, match="must match the size"):
        logits(peft_model, ids(1, 6))


@pytest.mark.parametrize("targets, match", [
    (["q_proj", "k_proj", "o_proj"], r"names \['k_proj'\] but not \['v_proj'\]: .* one kv_proj"),
    (None, r"names \['gate_proj', 'up_proj', 'down_proj'\], but DeepseekV4ForCausalLM holds its "
           r"experts' projections as fused 3D parameters.*\['q_proj', 'k_proj', 'v_proj', "
           r"'o_proj'\]")])
def test_lora_targets_it_cannot_adapt_are_refused_at_the_start_and_by_the_job(
        dense, tmp_path, targets, match):
    """k_proj without v_proj (its kv_proj is both: one adapter would change the values too),
    and the default targets' MLP projections (the experts fused, as every mixture of experts'
    are): refused at the start, naming what to write, and by the LoRA job; the attention
    targets pass the start check."""
    folder = _write_config(tmp_path / "m", tiny_values())
    check_lora_refused_at_start_and_by_the_job(folder, copy.deepcopy(dense), targets, match,
                                               passing=[ATTENTION, ["o_proj"]])


def test_shortgpt_compares_each_token_once_over_the_streams_concatenated(dense):
    """Its hc_mult residual streams are read whole a token, as HY-V4's (methods.depth's
    token_states and STREAM_FAMILIES): the paper's block influence, the last block's own
    output streams compared whichever last_block."""
    check_shortgpt_reads_the_streams_concatenated(dense)


# ---------------------------------------------------------------------- the cache figure

def held_bytes(cache) -> int:
    """The bytes DeepSeek-V4's cache layers hold: each block's window (a compressor's block's
    keys and values one tensor, counted once) and its compressors' buffered positions and
    gates, compressed entries and overlaps."""
    tensors = {}
    for layer in cache.layers:
        held = [layer.keys, layer.values]
        for name in ("buffer_kv", "buffer_gate", "compressed_kv", "overlap_kv", "overlap_gate"):
            held += (getattr(layer, name, None) or {}).values()
        tensors.update((t.data_ptr(), t) for t in held if isinstance(t, torch.Tensor))
    return sum(t.nbytes for t in tensors.values())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(dense, dtype):
    """kv_cache_bytes after a prefill and a decode step, within the 4-token window (2, 3
    positions: before CSA's first entry, then with it) and past it (9, 14), also with a CSA
    block removed: the tensors DeepSeek-V4's cache layers hold (the sliding block's keys and
    values, each compressor block's one K = V window, the compressors' entries, open windows
    and CSA's overlap, its gates float32 in bfloat16), beside, past the window, each block's
    step's own position (1 head of 16, keys and values apart in the sliding block) that the
    window - 1 positions kept are read with. (The figure of one KV head's keys and values a
    block and position, as before, was under the cache at 2 positions, over it past the
    window.)"""
    from prunebench.benchmark.floors import kv_cache_bytes

    for drop in ([], [1]):
        model = cast_floating(remove_blocks(copy.deepcopy(dense), drop), dtype)
        kinds = model.config.layer_types
        for length in (2, 3, 9, 14):
            with torch.no_grad():
                cache = model(input_ids=ids(1, length - 1), use_cache=True).past_key_values
                cache = model(input_ids=ids(1, 1), past_key_values=cache,
                              use_cache=True).past_key_values
            step = 0 if length <= 4 else (len(kinds) + kinds.count(KINDS[0])) * 16
            assert kv_cache_bytes(model.config, 1, length, dtype) == (
                held_bytes(cache) + step * dtype.itemsize)


def test_a_token_adds_its_compressed_entries_past_the_window(dense):
    """`prunebench plan`'s bytes a token adds (kv_bytes_of): past the window, each CSA block an
    entry of 16 + 8 every 2 positions, the HCA block one of 16 every 4, the sliding block
    none: (2 x 24 / 2 + 16 / 4) x 4 bytes, what transformers' cache grows by over 4 tokens
    (the rates' common multiple) a token; a plan removing blocks of one kind counts as many
    tokens' entries fewer, and none where the blocks removed are of several kinds (the
    criterion decides which)."""
    from prunebench.checkpoint.param_count import kv_bytes_of, kv_bytes_per_token, layer_shapes
    from prunebench.methods.sizing import plan_blocks

    config = dense.config
    assert kv_bytes_of(config, layer_shapes(config), 4) == (2 * 24 / 2 + 16 / 4) * 4 == 112
    grown = []
    for length in (14, 18):
        with torch.no_grad():
            grown.append(held_bytes(dense(input_ids=ids(1, length),
                                          use_cache=True).past_key_values))
    assert grown[1] - grown[0] == 4 * 112
    plan = plan_blocks(config, count_params(config) * 3 // 4, 0, 0)
    assert plan["blocks_removed"] > 0 and plan["kv_heads_kept"] is None
    csa = config_from_dict({**tiny_values(), "compress_ratios": [4] * 4})
    plan = plan_blocks(csa, count_params(csa) * 3 // 4, 0, 0)
    kept = plan["blocks_after"]
    assert plan["kv_heads_kept"] == kept < 4
    assert kv_bytes_per_token(csa, kept, 4) == kept * 24 / 2 * 4 == kv_bytes_of(
        csa, layer_shapes(csa)[:kept], 4)


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("change, match", [
    ({"compress_ratios": [0, 4, 64, 4]}, "layer_types .* for 4 blocks"),
    ({"layer_types": KINDS[:3]}, "layer_types .* for 4 blocks"),
    ({"mlp_layer_types": ["hash_moe", "dense", "moe", "moe"]}, "mlp_layer_types"),
    ({"n_shared_experts": 2}, "one shared expert"),
    ({"quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}},
     "DeepSeek-V4 as deepseek-ai publishes it")])
def test_a_config_json_transformers_cannot_build_as_written_is_refused(change, match,
                                                                        tmp_path):
    """Read without transformers: block kinds DeepseekV4Config refuses, another number of
    shared experts than the one it builds, and quantized weights (the published FP8 / FP4
    checkpoints) refused."""
    folder = _write_config(tmp_path / "m", {**tiny_values(), **change})
    with pytest.raises(PrunebenchError, match=match):
        checked_config_json(folder)


# ------------------------------------------------------------------------------ float16

@pytest.mark.parametrize("settings, refused", [
    ({}, ["benchmark.dtype is 'auto' (float16 on a GPU)"]),
    ({"device": "cpu"}, []),
    ({"benchmark": {"dtype": "bfloat16"}}, []),
    ({"device": "cpu", "evaluation": {"perplexity": {"dtype": "float16"}},
      "methods": {"sleb": {"params": {"dtype": "float16"}}}},
     ["evaluation.perplexity.dtype is 'float16'", "methods.sleb.params.dtype is 'float16'"]),
    ({"device": "cpu", "variant params": {"dtype": "fp16"}},
     ["variants: sleb-0.25: params.dtype is 'fp16'"])])
def test_float16_is_refused_at_the_start(tmp_path, settings, refused):
    """Without a class (any release): a dtype that is float16, or auto on a device that may
    be a GPU (the benchmark's default, float16 there), refused for a DeepSeek-V4 model,
    naming the setting and bfloat16; bfloat16, and auto on the CPU (float32), are not; a LLaMA
    model in float16 is not."""
    from prunebench.plan.checks import float16_problems

    folder = _write_config(tmp_path / "m", tiny_values())
    settings = dict(settings)
    variant = {"name": "sleb-0.25", "params": settings.pop("variant params", {})}
    config = {"models": {"m": {"source": f"local:{folder}", "variants": ["dense", variant]},
                         "l": {"source": "local:/nowhere", "shape": "tiny"}},
              "benchmark": {"backends": ["hf"]}, **settings}
    problems = float16_problems(config)
    assert len(problems) == len(refused)
    for problem, said in zip(problems, refused):
        assert problem.startswith(f"models.m: {said}") or said in problem
        assert "'deepseek_v4' model cannot run in float16" in problem
        assert "set the dtype to bfloat16" in problem


def test_float16_fails_in_transformers_and_is_refused_and_bfloat16_decodes(tmp_path):
    """transformers' own model loaded in float16 keeps its compressors' projections in
    float32 (_keep_in_fp32_modules) and its forward fails with a dtype mismatch; prunebench
    refuses to load or cast the model in float16, naming bfloat16, before any weight moves;
    in bfloat16 the hf backend decodes as transformers' generate of the model loaded in
    bfloat16."""
    from transformers import DeepseekV4ForCausalLM

    needs()
    save_model(family_model(NAME), None, tmp_path / "m")
    theirs = DeepseekV4ForCausalLM.from_pretrained(tmp_path / "m", dtype=torch.float16).eval()
    assert theirs.model.layers[1].self_attn.compressor.kv_proj.weight.dtype == torch.float32
    with pytest.raises(RuntimeError, match="dtype"):
        logits(theirs, ids(1, 8))
    for refused in (lambda: load_model(tmp_path / "m", dtype="float16"),
                    lambda: cast_floating(family_model(NAME), torch.float16)):
        with pytest.raises(PrunebenchError, match="'deepseek_v4' model cannot run in float16: "
                                                  "DeepseekV4ForCausalLM keeps its compressors"
                                                  ".*set the dtype to bfloat16"):
            refused()
    ours = load_model(tmp_path / "m", dtype="bfloat16")
    assert ours.model.layers[1].self_attn.compressor.kv_proj.weight.dtype == torch.bfloat16
    theirs = in_allocated_memory(DeepseekV4ForCausalLM.from_pretrained(
        tmp_path / "m", dtype=torch.bfloat16)).eval()
    check_hf_decodes_as_generate(ours, theirs, 6)
