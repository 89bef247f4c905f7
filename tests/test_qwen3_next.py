"""Qwen3-Next (qwen3_next, Qwen3NextForCausalLM; Qwen3-Next-80B-A3B-Instruct / -Thinking), a
hybrid of Gated DeltaNet (linear attention) and gated full-attention blocks with a mixture of
experts: exact counts (against transformers' meta model, config.json's values alone and the
arithmetic by hand, the Gated DeltaNet's parameters by closed form); depth pruning that removes
blocks of either kind, each kept block reloading as the kind it was (`layer_types` rewritten,
mlp_only_layers renumbered), with the logits of transformers' model built of the kept blocks;
the hf backend's generation of a depth-pruned model equal to transformers' generate and to
greedy decoding without a cache (the conv and recurrent states kept per block); the cache a
step reads (the full-attention blocks' keys and values, the linear blocks' fixed state) equal
to what transformers' cache holds; the published layout (one tensor per expert, the
multi-token-prediction layer `mtp.*`, full_attention_interval without layer_types) imported
as transformers loads it; the refusals (width methods, the compiled backend, expert LoRA
targets, block kinds and head counts transformers does not build); the known shape by hand
(tests/test_families.py and tests/test_moe.py run the shared per-family and
mixture-of-experts tests on it too)."""

from __future__ import annotations

import copy
import itertools
import json
import re

import pytest
import torch
from transformers import Qwen3NextConfig, Qwen3NextForCausalLM

from prunebench import PrunebenchError
from prunebench import benchmark as bench
from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.benchmark.runners import static_cache_problem
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (block_param_count, checked_config_json,
                                               checkpoint_config, config_from_dict,
                                               count_params, depth_removed_params, family,
                                               layer_shapes,
                                               sparse_mlp_blocks, state_blocks)
from prunebench.methods.sizing import check_prunable, plan_blocks
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_deepseek import (bfloat16_rounded, ids, logits, numel, random_model,
                           write_published_folder)
from test_deepseek_v2 import check_known_shape
from test_families import VOCAB, certain_steps, in_allocated_memory
from test_glm4_moe import (check_half_precision_load, check_loads_as_transformers,
                           check_refused_as_a_mixture_of_experts)
from test_moe import per_expert_state
from test_families import tokenizer  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("one_thread")

LINEAR, FULL = "linear_attention", "full_attention"
# Five blocks: two full-attention ones among Gated DeltaNet ones, block 3 dense.
KINDS = [LINEAR, FULL, LINEAR, LINEAR, FULL]


def small(**over) -> Qwen3NextConfig:
    """A small Qwen3-Next: gated attention of 4 query heads of 8 on 2 KV heads, half of each
    head rotating; Gated DeltaNet of 2 key heads of 8 on 4 value heads of 12; 4 experts of 16,
    2 a token, a shared expert of 24; block 3 dense (intermediate_size 40); untied."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=40, num_hidden_layers=5,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                  partial_rotary_factor=0.5, layer_types=KINDS, linear_num_key_heads=2,
                  linear_num_value_heads=4, linear_key_head_dim=8, linear_value_head_dim=12,
                  linear_conv_kernel_dim=4, moe_intermediate_size=16,
                  shared_expert_intermediate_size=24, num_experts=4, num_experts_per_tok=2,
                  mlp_only_layers=[3], max_position_embeddings=64, bos_token_id=1,
                  eos_token_id=2, pad_token_id=0)
    values.update(over)
    if "num_hidden_layers" in over and "layer_types" not in over:
        values.pop("layer_types")  # derived from full_attention_interval
    return Qwen3NextConfig(**values)


@pytest.mark.parametrize("bias,tied,dense,kinds", list(itertools.product(
    [False, True], [False, True], [{"mlp_only_layers": [3]}, {"decoder_sparse_step": 2}],
    [KINDS, [LINEAR] * 5, [FULL] * 5])))
def test_counts_equal_transformers_parameters(bias, tied, dense, kinds):
    """Attention biases on or off (the gated query's bias twice as wide), tied or not, dense
    blocks by mlp_only_layers or decoder_sparse_step, blocks of either kind or both: the
    closed form, and config_from_dict of the config.json values, equal model.parameters()."""
    config = small(attention_bias=bias, tie_word_embeddings=tied, layer_types=kinds,
                   **{"mlp_only_layers": [], **dense})
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    values = json.loads(config.to_json_string())
    assert "num_experts" in values and "num_local_experts" not in values
    assert count_params(config_from_dict(values)) == count_params(config)
    full = [i for i, kind in enumerate(kinds) if kind == FULL]
    for i in full:
        attn = model.model.layers[i].self_attn
        assert attn.q_proj.weight.shape == (2 * 4 * 8, 32)  # the query and its output gate
        assert (attn.q_proj.bias is not None) == bias


@pytest.mark.parametrize("interval", [1, 2, 4, 6])
def test_a_config_json_with_the_interval_alone_counts_the_blocks_transformers_builds(interval):
    """The published config.json gives full_attention_interval and no layer_types:
    config_from_dict derives each block's kind as Qwen3NextConfig does."""
    check_interval_alone(small(num_hidden_layers=6, full_attention_interval=interval,
                               mlp_only_layers=[]), interval)


def check_interval_alone(config, interval: int) -> None:
    """`config`'s values as a config.json with full_attention_interval `interval` and no
    layer_types: read without transformers, its blocks' kinds and count are the model's."""
    values = {k: v for k, v in json.loads(config.to_json_string()).items()
              if k != "layer_types"}
    values["full_attention_interval"] = interval
    ours = config_from_dict(values)
    assert ours.layer_types == config.layer_types
    assert count_params(ours) == numel(build_model(config, device="meta"))


def test_the_count_is_the_sum_of_each_part_by_hand():
    d, experts, width, shared = 32, 4, 16, 24
    keys, values, value_heads = 2 * 8, 4 * 12, 4
    linear = (d * (2 * keys + 2 * values) + d * 2 * value_heads  # in_proj_qkvz, in_proj_ba
              + (2 * keys + values) * 4  # the conv1d's kernels
              + 2 * value_heads + 12  # dt_bias, A_log, the gated norm
              + values * d)  # out_proj
    full = d * 2 * 4 * 8 + 2 * d * 2 * 8 + 4 * 8 * d + 2 * 8  # gated q, k, v, o, q/k norms
    sparse = experts * d + experts * 3 * d * width + 3 * d * shared + d  # router, shared, gate
    dense = 3 * d * 40
    blocks = [linear + sparse, full + sparse, linear + sparse, linear + dense, full + sparse]
    total = 2 * VOCAB * d + d + sum(b + 2 * d for b in blocks)  # untied; the norms
    assert count_params(small()) == total


def kept_blocks_model(model, keep: list[int]) -> Qwen3NextForCausalLM:
    """transformers' own model of `model`'s blocks `keep` (renumbered): a config of that depth
    whose layer_types and mlp_only_layers are the kept blocks' own, given those weights."""
    config = copy.deepcopy(model.config)
    kinds, dense = config.layer_types, set(config.mlp_only_layers)
    config.num_hidden_layers = len(keep)
    config.layer_types = [kinds[i] for i in keep]
    config.mlp_only_layers = [new for new, old in enumerate(keep) if old in dense]
    kept = Qwen3NextForCausalLM(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept


def kinds_of(model) -> list[str]:
    """Each block's token mixer as built: a Gated DeltaNet or a softmax attention."""
    return [LINEAR if hasattr(layer, "linear_attn") else FULL for layer in model.model.layers]


@pytest.mark.parametrize("drop", [[0], [1], [3], [0, 4], [0, 2, 3]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """Removing Gated DeltaNet blocks, full-attention ones or the dense block: the pruned model, and its save reloaded by prunebench and by transformers, compute
    the logits of transformers' model built of the kept blocks, each block of the kind it was
    (layer_types and mlp_only_layers rewritten, as the config.json says)."""
    model = check_depth_pruning(random_model(small()), drop, kept_blocks_model,
                                Qwen3NextForCausalLM, tmp_path)
    assert sparse_mlp_blocks(model.config) == [i != 3 for i in range(5) if i not in drop]


def check_depth_pruning(model, drop: list[int], kept_model, model_class, tmp_path):
    """`model` (blocks of KINDS) without its blocks `drop`, and its save reloaded by prunebench
    and by transformers' `model_class`, compute the logits of transformers' model of the kept
    blocks (`kept_model(model, keep)`), each block of the kind it was; returns the pruned
    model."""
    keep = [i for i in range(5) if i not in drop]
    x = ids()
    expected = logits(kept_model(model, keep), x)
    remove_blocks(model, drop)
    assert model.config.layer_types == [KINDS[i] for i in keep] == kinds_of(model)
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, x), expected)
    save_model(model, None, tmp_path / "pruned")
    written = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert written["layer_types"] == [KINDS[i] for i in keep]
    again = load_model(tmp_path / "pruned")
    assert kinds_of(again) == [KINDS[i] for i in keep]
    assert torch.equal(logits(again, x), expected)
    theirs = in_allocated_memory(model_class.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    assert kinds_of(theirs) == [KINDS[i] for i in keep]
    assert torch.equal(logits(theirs, x), expected)
    return model


def no_cache_greedy(model, prompt, n_new: int):
    """Greedy decoding by running the whole sequence again for each token: no conv or
    recurrent state kept between steps, so nothing of the cache's bookkeeping. EOS is never
    chosen, as the backends' min_new_tokens (all of them) masks it."""
    eos = model.config.eos_token_id
    eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    sequence, scores = prompt, []
    with torch.no_grad():
        for _ in range(n_new):
            step = model(input_ids=sequence, use_cache=False).logits[:, -1].clone()
            step[:, eos] = -float("inf")
            scores.append(step)
            sequence = torch.cat([sequence, step.argmax(-1, keepdim=True)], dim=1)
    return sequence, torch.stack(scores, dim=1)


def test_removing_every_full_attention_block_is_refused_before_anything_changes():
    """Without a full-attention block transformers' cache cannot size the masks: a cached
    forward (generate, every benchmark) stops. The removal is refused, naming the
    full-attention blocks and what to do; the model is left whole."""
    check_removing_the_full_attention_blocks_is_refused(random_model(small()), "Qwen3-Next",
                                                        kept_blocks_model)


def check_removing_the_full_attention_blocks_is_refused(model, name: str, kept_model) -> None:
    """`model` (blocks of KINDS, a `name` model): removing blocks 1 and 4, its full-attention
    ones, is refused naming them and what to do, the model left whole; transformers' own model
    of the other blocks (`kept_model(model, keep)`) stops at a cached forward."""
    x = ids()
    before = logits(model, x)
    with pytest.raises(PrunebenchError, match=r"removing blocks \[1, 4\] would leave this "
                                              rf"{re.escape(name)} model Gated DeltaNet blocks "
                                              r"only \(its full-attention blocks are "
                                              r"\[1, 4\]\).*protect_last"):
        remove_blocks(model, [4, 1])
    assert model.config.num_hidden_layers == 5 and model.config.layer_types == KINDS
    assert torch.equal(logits(model, x), before)
    with pytest.raises(ValueError):  # what transformers does with such a model
        kept = kept_model(model, [0, 2, 3])
        with torch.no_grad():
            kept(input_ids=x, use_cache=True)


def test_a_depth_plan_leaving_no_full_attention_block_is_refused_when_planned():
    """A depth plan sizes a removal that leaves a full-attention block, the nearest the target
    of those remove_blocks allows; a target below them all (the workflow's start checks) is
    refused, naming the blocks that stay (remove_blocks refuses a criterion's choice that
    leaves none)."""
    check_depth_plans_leave_a_block_of_each_kind(random_model(small()))
    # protect_first 1 keeps block 0, a Gated DeltaNet one: removing the 4 others leaves no
    # full-attention block
    config = small()
    with pytest.raises(PrunebenchError, match=re.escape(
            "the smallest size a depth prune of this 'qwen3_next' model (Qwen3NextForCausalLM) "
            "reaches (its removable blocks [1, 2, 3, 4] gone but one of its full-attention "
            "blocks [1, 4] (transformers sizes its masks")):
        check_prunable(config, "shortgpt", str(plan_target(config, [1, 2, 3, 4], 4)),
                       {"protect_first": 1, "protect_last": 0})


def plan_target(config, removable: list[int], k: int) -> int:
    """The size a depth plan reaches by removing `k` of the `removable` blocks exactly (the
    k largest, as plan_blocks sizes it)."""
    shapes = layer_shapes(config)
    sizes = sorted((block_param_count(config, shapes[b]) for b in removable), reverse=True)
    return count_params(config) - sum(sizes[:k])


def check_depth_plans_leave_a_block_of_each_kind(model) -> None:
    """Every depth plan of `model`'s config (no protection, or one block at either end or
    both; each target the removal of the k largest removable blocks, every k) says a size
    nearest the target of those reached by the removals remove_blocks allows (every subset
    tried: its blocks of several sizes are planned by mix, methods.sizing.depth_mix, none
    leaving a kind without its blocks), and is refused exactly where the target lies below
    them all by more than half a step, naming the blocks that stay or the kinds (a plan of
    blocks of one size: check_kinds_left)."""
    config, n = model.config, model.config.num_hidden_layers
    total = count_params(config)
    removed: dict[tuple[int, ...], bool] = {}
    for first, last in itertools.product([0, 1], [0, 1]):
        removable = list(range(first, n - last))
        reached = {total}
        for k in range(1, min(len(removable), n - 1) + 1):
            for drop in itertools.combinations(removable, k):
                if drop not in removed:
                    try:
                        remove_blocks(copy.deepcopy(model), list(drop))
                        removed[drop] = True
                    except PrunebenchError:
                        removed[drop] = False
                if removed[drop]:
                    reached.add(total - depth_removed_params(config, drop))
        smallest = min(reached)
        step = min(size - smallest for size in reached if size > smallest)
        for k in range(1, min(len(removable), n - 1) + 1):
            target = plan_target(config, removable, k)
            gaps = {size: abs(size - target) for size in reached}
            try:
                plan = plan_blocks(config, target, first, last)
            except PrunebenchError as refusal:
                assert target < smallest - step / 2, (first, last, k, refusal)
                assert re.search(f"removing {k} of the removable blocks.*would leave this|is "
                                 f"below {smallest:,}, the smallest size a depth prune of this",
                                 str(refusal)), refusal
                continue
            assert gaps[plan["params_after"]] == min(gaps.values()), (first, last, k)
    assert not all(removed.values())  # (some choices refused)


@pytest.mark.parametrize("drop", [[0], [4], [2, 3]])
def test_the_hf_backend_decodes_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """A depth-pruned model (its blocks renumbered: each block's cache entry is its new
    index, its Gated DeltaNet's conv and recurrent states too) reloaded: the hf backend's
    tokens equal transformers' generate of its own loading of the checkpoint, and greedy
    decoding without a cache wherever that choice is certain; so do hf_static's (transformers'
    static cache keeps the linear blocks' states as its dynamic one does)."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small()), drop, Qwen3NextForCausalLM, tmp_path / "pruned")


def check_a_depth_pruned_reload_decodes_as_transformers(model, drop, model_class,
                                                        folder, **load) -> None:
    """`model` with blocks `drop` removed, saved to `folder` and loaded again by prunebench and
    by transformers' `model_class` (`load`: its from_pretrained's other arguments, VaultGemma's
    eager attention): check_hf_backends_decode_as_transformers on the two."""
    remove_blocks(model, drop)
    save_model(model, None, folder)
    ours = load_model(folder)
    theirs = in_allocated_memory(model_class.from_pretrained(folder, dtype=torch.float32,
                                                             **load)).eval()
    check_hf_backends_decode_as_transformers(ours, theirs)


def check_hf_decodes_as_generate(ours, theirs, n_new: int) -> torch.Tensor:
    """The hf backend's greedy tokens of prunebench's model `ours` for a 7-token prompt (two
    rows), which equal transformers' generate of `theirs`."""
    prompt = ids(2, 7, seed=5)
    mask = torch.ones_like(prompt)
    tokens = bench.HFRunner(ours, n_new).generate(prompt, mask)
    with torch.inference_mode():
        reference = theirs.generate(input_ids=prompt, attention_mask=mask, max_new_tokens=n_new,
                                    min_new_tokens=n_new, do_sample=False, pad_token_id=0)
    assert torch.equal(tokens, reference)
    return tokens


def check_hf_backends_decode_as_transformers(ours, theirs) -> None:
    """The hf backend's tokens of prunebench's model `ours` equal transformers' generate of
    `theirs` (its own loading of the same checkpoint), and greedy decoding without a cache
    wherever that choice is certain; so do hf_static's."""
    prompt, n_new = ids(2, 7, seed=5), 8
    mask = torch.ones_like(prompt)
    tokens = check_hf_decodes_as_generate(ours, theirs, n_new)
    uncached, scores = no_cache_greedy(ours, prompt, n_new)
    static = uncached  # (GPT-Neo's local blocks: hf_static refused, nothing to compare)
    if static_cache_problem(ours):
        with pytest.raises(PrunebenchError, match="hf_static backend cannot run"):
            bench.HFStaticRunner(ours, n_new)
    else:
        static = bench.HFStaticRunner(ours, n_new).generate(prompt, mask)
    for row, k in enumerate(certain_steps(scores)):
        assert k > 0  # the check compares tokens
        end = prompt.shape[1] + k
        assert torch.equal(tokens[row, :end], uncached[row, :end]), (row, k)
        assert torch.equal(static[row, :end], uncached[row, :end]), (row, k)


def cache_bytes(cache) -> int:
    """The bytes transformers' cache holds: each full-attention block's keys and values, each
    Gated DeltaNet block's conv and recurrent states."""
    total = 0
    for layer in cache.layers:
        for name in ("keys", "values"):
            tensor = getattr(layer, name, None)
            total += tensor.nbytes if isinstance(tensor, torch.Tensor) else 0
        for name in ("conv_states", "recurrent_states"):
            states = getattr(layer, name, None) or {}
            for state in (states.values() if isinstance(states, dict) else states):
                total += state.nbytes if isinstance(state, torch.Tensor) else 0
    return total


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(dtype):
    """kv_cache_bytes (the batch-1 floor's cache): the full-attention blocks' keys and values
    of the positions seen, and each Gated DeltaNet block's state of one size whatever the
    length (its conv state in the model's dtype, its recurrent state in float32), equal to the
    tensors transformers' cache holds after a prefill; a depth-pruned model's too."""
    check_cache_bytes(random_model(small()).to(dtype), dtype)


def check_cache_bytes(model, dtype) -> None:
    """`model` (in `dtype`) and a copy without its block 1: after a prefill, transformers'
    cache holds kv_cache_bytes, each linear-attention block's (each Falcon-H1 block's) conv
    state in `dtype` and its recurrent state in float32 (an LFM2 short convolution keeps
    none: its state is its conv inputs alone)."""
    for drop in ([], [1]):
        remove_blocks(model, drop)
        for batch, length in ((1, 5), (2, 9)):
            with torch.no_grad():
                out = model(input_ids=ids(batch, length), use_cache=True)
            # (Mamba's output names it cache_params on transformers 5.17)
            cache = (getattr(out, "past_key_values", None) or getattr(out, "cache", None)
                     or out.cache_params)
            assert cache_bytes(cache) == kv_cache_bytes(model.config, batch, length, dtype)
            linear = next(layer for layer, is_linear in
                          zip(cache.layers, state_blocks(model.config)) if is_linear)
            recurrent = linear.recurrent_states[0]
            assert (recurrent is None if family(model.config).short_conv
                    else recurrent.dtype == torch.float32)
            assert linear.conv_states[0].dtype == dtype


def published_config(model) -> dict:
    """The model's config.json as Qwen publishes Qwen3-Next's: full_attention_interval (4)
    instead of layer_types, rope_theta and partial_rotary_factor at the top, no
    rope_parameters."""
    raw = {k: v for k, v in json.loads(model.config.to_json_string()).items()
           if k not in ("layer_types", "rope_parameters", "dtype", "transformers_version")}
    return {**raw, "full_attention_interval": 4, "rope_theta": 10000.0,
            "partial_rotary_factor": 0.5, "rope_scaling": None, "torch_dtype": "bfloat16"}


def mtp_tensors(d: int, width: int) -> dict[str, torch.Tensor]:
    """A multi-token-prediction layer under the published `mtp.*` names (its projection of
    the hidden state and the next token's embedding, their norms, one decoder block with its
    experts one tensor each), which Qwen3NextForCausalLM does not build."""
    g = torch.Generator().manual_seed(7)
    shapes = {"mtp.fc.weight": (d, 2 * d), "mtp.pre_fc_norm_embedding.weight": (d,),
              "mtp.pre_fc_norm_hidden.weight": (d,), "mtp.norm.weight": (d,),
              "mtp.layers.0.input_layernorm.weight": (d,),
              "mtp.layers.0.mlp.gate.weight": (4, d)}
    for e in range(4):
        for proj, shape in (("gate_proj", (width, d)), ("up_proj", (width, d)),
                            ("down_proj", (d, width))):
            shapes[f"mtp.layers.0.mlp.experts.{e}.{proj}.weight"] = shape
    return {name: torch.randn(shape, generator=g).to(torch.bfloat16)
            for name, shape in shapes.items()}


def test_the_published_layout_is_imported_as_transformers_loads_it_pruned_and_reloaded(
        tmp_path, tokenizer):  # noqa: F811 - the fixture
    """Qwen's published folder: config.json with full_attention_interval alone (blocks 0-2
    Gated DeltaNet, block 3 full attention), one tensor per expert, the `mtp.*` layer, in
    bfloat16 over two shards. Read for a plan, it counts what the import makes; imported, its
    experts are fused and its MTP layer dropped (recorded), and prunebench's load and
    transformers' own loading of the imported folder hold the same tensors and logits, those
    of the model the weights came from (rounded to bfloat16), as does transformers' loading
    of the published folder itself; depth-pruned, saved and reloaded, the kinds stay."""
    model = random_model(small(num_hidden_layers=4, mlp_only_layers=[]))
    assert model.config.layer_types == [LINEAR, LINEAR, LINEAR, FULL]
    hub = tmp_path / "hub"
    state = {k: t.to(torch.bfloat16).contiguous()
             for k, t in per_expert_state(model, "qwen3_next").items()}
    assert "model.layers.0.mlp.experts.3.down_proj.weight" in state
    assert "model.layers.0.linear_attn.in_proj_qkvz.weight" in state
    write_published_folder(hub, tokenizer, published_config(model),
                           {**state, **mtp_tensors(32, 16)})
    assert count_params(checkpoint_config(hub)) == numel(model)
    assert moe_fuse.needs_fusion(hub)
    x = ids()
    expected = logits(bfloat16_rounded(model), x)
    published = in_allocated_memory(Qwen3NextForCausalLM.from_pretrained(
        hub, dtype=torch.float32)).eval()  # transformers fuses and drops as it reads
    assert torch.equal(logits(published, x), expected)
    out = import_local(f"local:{hub}", tmp_path / "imported")
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["dropped_blocks"] == ["mtp"]
    assert "Qwen3NextForCausalLM" in record["dropped_note"]
    assert record["experts_per_block"] == {f"model.layers.{i}": 4 for i in range(4)}
    ours = load_model(out)
    assert numel(ours) == count_params(ours.config) == numel(model)
    assert ours.config.layer_types == [LINEAR, LINEAR, LINEAR, FULL]
    assert torch.equal(logits(ours, x), expected)
    check_loads_as_transformers(ours, out)
    remove_blocks(ours, [0, 2])
    pruned = logits(ours, x)
    save_model(ours, None, tmp_path / "pruned")
    again = load_model(tmp_path / "pruned")
    assert kinds_of(again) == [LINEAR, FULL]
    assert torch.equal(logits(again, x), pruned)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_half_precision_load_holds_each_tensor_as_transformers_does(dtype, tmp_path):
    """transformers keeps no Qwen3-Next tensor in float32 (A_log and dt_bias are cast where
    they are used): prunebench's half-precision load holds the dtypes transformers' does and
    computes its logits."""
    ours = check_half_precision_load(random_model(small()), dtype, tmp_path)
    assert ours.model.layers[0].linear_attn.A_log.dtype == dtype
    assert ours.model.layers[1].mlp.experts.gate_up_proj.dtype == dtype


@pytest.mark.parametrize("method", ["flap", "llm_pruner", "wanda_sp", "blockpruner", "compiled"])
def test_width_methods_the_compiled_backend_and_expert_lora_targets_are_refused(method):
    check_refused_as_a_mixture_of_experts(small(), method, "Qwen3NextForCausalLM")


def unbuilt_changes(model_class: str, name: str) -> list[tuple[dict, str]]:
    """Changes to the config.json of a model of KINDS' blocks (a `model_class`, which messages
    call a `name` model) that transformers' class does not build as its weights are, each with
    what its refusal says."""
    return [
        ({"layer_types": [LINEAR, FULL, "sliding_attention", LINEAR, FULL]},
         rf"layer_types \['sliding_attention'\]: {model_class} builds a Gated DeltaNet"),
        ({"linear_num_value_heads": 3}, "linear_num_value_heads=3 and linear_num_key_heads=2: "
                                        "each key head of the Gated DeltaNet serves a whole "
                                        "group"),
        ({"layer_types": [LINEAR, FULL, LINEAR]},
         r"layer_types \(3\) for 5 blocks: each block needs its entry"),
        ({"layer_types": [LINEAR] * 5},
         rf"gives no 'full_attention' block.*sizes a {re.escape(name)} model's masks"),
        ({"layer_types": None, "full_attention_interval": 6},
         r"gives no 'full_attention' block \(layer_types, or as its full_attention_interval"),
        # the class gates every full-attention block's output whatever the key says
        ({"attn_output_gate": False},
         rf"gives attn_output_gate=false: {model_class} gates every full-attention block's "
         r"output .* would not load a checkpoint without the gate"),
    ]


@pytest.mark.parametrize("change,refused", unbuilt_changes("Qwen3NextForCausalLM", "Qwen3-Next"))
def test_blocks_transformers_does_not_build_are_refused_when_read(change, refused, tmp_path):
    """A config.json whose blocks transformers' class does not build as its weights are (a
    block kind it builds no token mixer for, value heads that are no whole groups of key
    heads, a kind missing for some block) is refused by the load's check and by the plan's,
    before the plan counts it or the load fails."""
    check_refused_when_read(small(), change, refused, tmp_path)


def check_refused_when_read(config, change: dict, refused: str, tmp_path) -> None:
    """`config`'s config.json is read; with `change` it is refused by the load's check and the
    plan's, saying `refused`."""
    folder = tmp_path / "m"
    folder.mkdir()
    values = json.loads(config.to_json_string())
    (folder / "config.json").write_text(json.dumps(values))
    assert checked_config_json(folder)["model_type"] == config.model_type
    (folder / "config.json").write_text(json.dumps({**values, **change}))
    for read in (checked_config_json, checkpoint_config):
        with pytest.raises(PrunebenchError, match=refused):
            read(folder)


def test_transformers_builds_what_is_refused_wrong():
    """What the refusals save a user from: a block of another kind is built without a token
    mixer (it would run as a norm and an MLP, another model), and value heads that are no
    whole groups of key heads build, then stop the first forward."""
    model = build_model(small(layer_types=[LINEAR, FULL, "sliding_attention", LINEAR, FULL]),
                        device="meta")
    block = model.model.layers[2]
    assert not hasattr(block, "linear_attn") and not hasattr(block, "self_attn")
    model = random_model(small(linear_num_value_heads=3))
    with pytest.raises(RuntimeError):
        model(input_ids=ids(1, 4))


def test_the_known_shape_counts_what_transformers_builds_and_by_hand():
    """Qwen3-Next-80B-A3B (the card: 80B total, 79B without the embeddings, 3B activated): 48
    blocks of hidden 2048, every fourth gated attention of 16 / 2 heads of 256 (64 dimensions
    rotating), the others Gated DeltaNet of 16 key heads / 32 value heads of 128 with kernels
    of 4; in every block 512 experts of 512, 10 routed a token, and a gated shared expert of
    512; untied vocabulary of 151936."""
    from prunebench.checkpoint.architectures import known_shape_of

    # a batch-1 step: 10 routed experts and the shared one, every block's attention, the
    # routers, the LM head
    config = check_known_shape("qwen3-next-80b-a3b", 79_674_391_296, 3_563_764_480,
                               "Qwen3NextConfig")
    assert config.layer_types == ([LINEAR] * 3 + [FULL]) * 12
    assert config.rope_parameters["partial_rotary_factor"] == 0.25  # 64 of 256
    assert (config.bos_token_id, config.eos_token_id) == (151643, 151645)  # as published
    d, vocab, expert = 2048, 151936, 3 * 2048 * 512
    full = d * 2 * 16 * 256 + 2 * d * 2 * 256 + 16 * 256 * d + 2 * 256
    keys, values = 16 * 128, 32 * 128
    linear = (d * (2 * keys + 2 * values) + d * 2 * 32 + (2 * keys + values) * 4 + 2 * 32
              + 128 + values * d)
    moe = 512 * d + 512 * expert + expert + d + 2 * d  # router, experts, shared, gate, norms
    total = 2 * vocab * d + d + 12 * (full + moe) + 36 * (linear + moe)
    assert count_params(config) == total
    assert total - 2 * vocab * d == 79_052_061_440  # the card's 79B non-embedding
    read = vocab * d + d + 12 * full + 36 * linear + 48 * (moe - (512 - 10) * expert)
    assert read == 3_563_764_480
    for hub in ("Qwen/Qwen3-Next-80B-A3B-Instruct", "Qwen/Qwen3-Next-80B-A3B-Thinking"):
        assert known_shape_of(hub) == "qwen3-next-80b-a3b"
    assert known_shape_of("Qwen/Qwen3-Next-80B-A3B-Instruct-FP8") is None
    # a step's cache: the 12 full-attention blocks' keys and values (2 heads of 256, bfloat16)
    # a position, and the 36 Gated DeltaNet blocks' states of one size per sequence
    conv, recurrent = (2 * keys + values) * 4, 32 * 128 * 128
    assert kv_cache_bytes(config, 1, 1000, "bfloat16") == (
        12 * 2 * 2 * 256 * 2 * 1000 + 36 * (conv * 2 + recurrent * 4))
