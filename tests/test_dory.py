"""Dory (dory, DoryForCausalLM, transformers 5.24 on; NVIDIA's Nemotron-Labs Dory): a looped
normalized transformer. Its n_input_layers blocks run once, the next n_recurrent_layers run
n_recurrent_loops times (the same weights), then its n_output_layers blocks; its config.json
lists each block twice (its kind and "mlp"), num_hidden_layers and the sections doubled.

On a transformers older than 5.24 (make test-floor's 5.17; on 5.25 the release is faked): the
config.json is read (halved) and counted by hand without a transformers class, its refusals
proven, and everything that builds the model is refused, naming the release.

Where the class exists (skipped below with the refusal's words): exact counts against
transformers' meta model; depth pruning of each section equal to transformers' model of the
kept blocks (a removed recurrent block leaving every loop), the sections written back in the
doubled layout and reloaded by prunebench and by transformers; the hf and hf_static backends
decoding a pruned reload as transformers' generate and greedy decoding without a cache (both
cache modes); the cache held (a layer a loop, or one) and read (every loop); the criteria's
looped scores (ShortGPT's passes summed, Mag+ times the passes, the model without a block);
the width methods, BlockPruner, depth_angular and the compiled decoder refused."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
import transformers
import torch.nn.functional as F

from prunebench import PrunebenchError
from prunebench import benchmark as bench
from prunebench.benchmark.floors import kv_cache_bytes, read_params
from prunebench.checkpoint.param_count import (block_param_count, block_passes,
                                               checked_config_json, config_from_dict,
                                               count_params, kv_bytes_of, layer_shapes,
                                               transformers_release_problem,
                                               unreproduced_layout)
from prunebench.methods import depth_angular, sizing
from prunebench.methods.blockpruner import prune as blockpruner
from prunebench.methods.depth import without_blocks
from prunebench.methods.depth_mag import magnitude_scores
from prunebench.methods.shortgpt import block_influence
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel
from test_exaone_internlm3 import check_refused_below_its_release, write
from test_families import VOCAB
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

SECTIONS = ("n_input_layers", "n_recurrent_layers", "n_output_layers")


def needs_the_class():
    """Skip where this transformers predates 5.24 (the refusal's words as the reason)."""
    if problem := transformers_release_problem("dory"):
        pytest.skip(problem)


def config_json(**over) -> dict:
    """A small Dory config.json in the released, doubled layout: six blocks (two input, three
    recurrent looped three times, one output; each listed with its "mlp" entry), attention of
    4 query heads on 2 KV heads of 8, windowed at 4 tokens but block 3; MLP of 48; untied."""
    kinds = ["sliding_attention"] * 3 + ["full_attention"] + ["sliding_attention"] * 2
    values = dict(model_type="dory", vocab_size=VOCAB, hidden_size=32, intermediate_size=48,
                  num_hidden_layers=12, n_input_layers=4, n_recurrent_layers=6,
                  n_output_layers=2, n_recurrent_loops=3, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=8, sliding_window=4,
                  layer_types=[entry for kind in kinds for entry in (kind, "mlp")],
                  max_position_embeddings=64, ngpt_alpha_init=0.5, bos_token_id=1,
                  eos_token_id=2, pad_token_id=0)
    return {**values, **over}


def small(**over):
    """The class's config of `config_json` (which DoryConfig halves) with `over`."""
    needs_the_class()
    values = {k: v for k, v in config_json().items() if k != "model_type"}
    return transformers.DoryConfig(**{**values, **over})


def random_model(config, seed: int = 0):
    """transformers' initialisation, each per-channel scale and rate then drawn within half
    of its value either side (so that each one moves the logits)."""
    torch.manual_seed(seed)
    model = build_model(config, device="cpu").eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.mul_(torch.empty_like(p).uniform_(0.5, 1.5))
    return model


@pytest.fixture(scope="module")
def model():
    """One random model of `small()` (tests that change it take a copy)."""
    return random_model(small())


# --------------------------------------------------------------------------- counts

def test_the_config_json_is_halved_and_counted_by_hand(tmp_path):
    """From the config.json alone (no transformers class: on 5.17 too): the doubled layout
    read as DoryConfig halves it, and each part counted by hand."""
    ours = config_from_dict(checked_config_json(write(tmp_path, config_json())))
    assert (ours.num_hidden_layers, *(getattr(ours, key) for key in SECTIONS)) == (6, 2, 3, 1)
    assert ours.layer_types == ["sliding_attention"] * 3 + ["full_attention"] \
        + ["sliding_attention"] * 2
    d, q, kv, m = 32, 4 * 8, 2 * 8, 48
    attention = d * q + 2 * d * kv + q * d + d * q + 2 * q  # q, k, v, o; gate_proj; sqk, s_gate
    mlp = 3 * d * m + 2 * m  # gate, up, down; suv_gate, suv_up
    block = attention + mlp + 2 * d  # lambda_1, lambda_2 (its eight norms are weightless)
    head = VOCAB * d + VOCAB  # lm_head and its logit_scale
    assert count_params(ours) == VOCAB * d + 6 * block + head
    assert block_passes(ours) == [1, 1, 3, 3, 3, 1]


@pytest.mark.parametrize("over", [{}, {"attention_bias": True, "mlp_bias": True},
                                  {"tie_word_embeddings": True, "n_recurrent_loops": 1},
                                  {"recurrent_kv_cache_mode": "last_loop"}])
def test_counts_equal_transformers_parameters(over):
    """Biases, tying, loops and cache modes: the closed form and config_from_dict of the saved
    (doubled) config.json equal the meta model's parameters."""
    config = small(**over)
    meta = build_model(config, device="meta")
    assert numel(meta) == count_params(config)
    saved = json.loads(config.to_json_string())
    assert saved["num_hidden_layers"] == 12 and saved["layer_types"][1] == "mlp"
    assert count_params(config_from_dict(saved)) == numel(meta)


@pytest.mark.parametrize("over", [{"layer_types": None, "n_recurrent_layers": None},
                                  {"layer_types": None, "num_hidden_layers": 9,
                                   "n_input_layers": 3, "n_output_layers": 2,
                                   "n_recurrent_layers": None}])
def test_a_config_json_without_layer_types_reads_as_the_class_derives(over):
    """No layer_types (nothing halved; every fourth block global) and no n_recurrent_layers
    (the blocks left): read without transformers as DoryConfig reads it."""
    raw = {k: v for k, v in config_json(**over).items() if v is not None}
    theirs = small(**{k: v for k, v in over.items()})
    ours = config_from_dict(raw)
    for key in ("num_hidden_layers", "layer_types", *SECTIONS):
        assert getattr(ours, key) == getattr(theirs, key), key
    assert count_params(ours) == numel(build_model(theirs, device="meta"))


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int]):
    """transformers' own model of `model`'s blocks `keep` (renumbered), each in its section,
    given those weights."""
    config = copy.deepcopy(model.config)
    first, last = config.n_input_layers, config.n_input_layers + config.n_recurrent_layers
    config.num_hidden_layers = len(keep)
    config.layer_types = [config.layer_types[i] for i in keep]
    config.n_input_layers = sum(i < first for i in keep)
    config.n_recurrent_layers = sum(first <= i < last for i in keep)
    config.n_output_layers = sum(i >= last for i in keep)
    kept = transformers.DoryForCausalLM(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept


@pytest.mark.parametrize("drop,sections", [([0], (1, 3, 1)), ([3], (2, 2, 1)),
                                           ([5], (2, 3, 0)), ([2, 3, 4], (2, 0, 1)),
                                           ([1, 4], (1, 2, 1))])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(model, drop, sections,
                                                                   tmp_path):
    """Removing input, recurrent (one, or the whole loop) or output blocks: the pruned model,
    and its save reloaded by prunebench and by transformers, compute the logits of
    transformers' model of the kept blocks in their sections; config.json says them in the
    doubled layout, and each attention's cache index is its block's new one."""
    model, x = copy.deepcopy(model), ids()
    keep = [i for i in range(6) if i not in drop]
    expected = logits(kept_blocks_model(model, keep), x)
    remove_blocks(model, drop)
    assert tuple(getattr(model.config, key) for key in SECTIONS) == sections
    assert [layer.self_attn.layer_idx for layer in model.model.layers] == list(range(len(keep)))
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, x), expected)
    save_model(model, None, tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert [saved[key] for key in ("num_hidden_layers", *SECTIONS)] \
        == [2 * len(keep), *(2 * n for n in sections)]
    assert saved["layer_types"][1::2] == ["mlp"] * len(keep)
    assert count_params(config_from_dict(saved)) == numel(model)
    assert torch.equal(logits(load_model(tmp_path), x), expected)
    theirs = transformers.DoryForCausalLM.from_pretrained(tmp_path, dtype=torch.float32)
    assert torch.equal(logits(theirs.eval(), x), expected)


def test_the_sections_matter(model):
    """Why the sections are renumbered: the same kept blocks with a recurrent block counted in
    the output section instead (run once, not looped) compute other logits."""
    keep, x = [0, 1, 2, 3, 5], ids()
    right = kept_blocks_model(model, keep)
    wrong = copy.deepcopy(right)
    wrong.config.n_recurrent_layers, wrong.config.n_output_layers = 1, 2
    assert not torch.allclose(logits(right, x), logits(wrong, x), atol=1e-3)


def test_scoring_without_a_block_is_the_model_without_it(model):
    """depth_ppl's and SLEB's model without a recurrent block (methods.depth.without_blocks)
    computes the pruned model's logits: the block leaves every loop; the sections come back."""
    x = ids()
    with without_blocks(model, {3}):
        scored = logits(model, x)
    assert (model.config.num_hidden_layers, model.config.n_recurrent_layers) == (6, 3)
    assert torch.equal(scored, logits(remove_blocks(copy.deepcopy(model), [3]), x))


@pytest.mark.parametrize("drop", [[3], [0, 5]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """With a cache layer a loop ("per_loop"): the hf and hf_static backends' tokens of a
    pruned reload equal transformers' generate and greedy decoding without a cache."""
    pruned = random_model(small(sliding_window=16))
    check_a_depth_pruned_reload_decodes_as_transformers(
        pruned, drop, transformers.DoryForCausalLM, tmp_path / "p")


@pytest.mark.parametrize("drop", [[3], [0, 5]])
def test_last_loop_decodes_as_transformers_generate_with_that_cache(drop, tmp_path):
    """With "last_loop" the earlier loops attend over the last loop's cached keys and values,
    not their own (DoryPastReader): transformers' own cached decoding, which greedy decoding
    without a cache does not reproduce (shown for the dense model). The hf backend's tokens of
    a pruned reload equal transformers' generate of it, hf_static's its generate with the
    static cache."""
    model = random_model(small(recurrent_kv_cache_mode="last_loop", sliding_window=16))
    prompt, n_new = ids(2, 7, seed=5), 8
    mask = torch.ones_like(prompt)
    with torch.inference_mode():
        cached = model.generate(input_ids=prompt, attention_mask=mask, max_new_tokens=n_new,
                                do_sample=False, pad_token_id=0)
        uncached = model.generate(input_ids=prompt, attention_mask=mask, max_new_tokens=n_new,
                                  do_sample=False, pad_token_id=0, use_cache=False)
    assert not torch.equal(cached, uncached)
    remove_blocks(model, drop)
    save_model(model, None, tmp_path)
    ours = load_model(tmp_path)
    theirs = transformers.DoryForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
    for runner, cache in ((bench.HFRunner, "dynamic"), (bench.HFStaticRunner, "static")):
        tokens = runner(ours, n_new).generate(prompt, mask)
        with torch.inference_mode():
            reference = theirs.generate(input_ids=prompt, attention_mask=mask,
                                        max_new_tokens=n_new, min_new_tokens=n_new,
                                        do_sample=False, pad_token_id=0,
                                        cache_implementation=cache)
        assert torch.equal(tokens, reference), cache


# --------------------------------------------------------------------------- cache and floors

def held_bytes(cache) -> int:
    """Bytes of keys and values `cache` holds (a DoryPastReader view holds none)."""
    return sum(layer.keys.numel() * layer.keys.element_size()
               + layer.values.numel() * layer.values.element_size()
               for layer in cache.layers if type(layer).__name__ != "DoryPastReader")


@pytest.mark.parametrize("mode,held", [("per_loop", 12), ("last_loop", 9)])
@pytest.mark.parametrize("drop", [[], [3]])
def test_the_cache_held_and_read(mode, held, drop):
    """With "per_loop" a recurrent block holds a cache layer a loop, with "last_loop" one
    (its earlier loops' DoryPastReader views hold nothing): kv_bytes_of is what transformers'
    cache holds; every loop reads its block's keys and values (kv_cache_bytes), and its weights
    (read_params)."""
    config = small(recurrent_kv_cache_mode=mode, sliding_window=16)
    pruned = remove_blocks(random_model(config), drop)
    with torch.no_grad():
        cache = pruned(input_ids=ids(1, 9), use_cache=True).cache
    assert len(cache.layers) == held - (3 if mode == "per_loop" else 2) * len(drop)
    shapes = layer_shapes(pruned.config)
    assert held_bytes(cache) == 9 * kv_bytes_of(pruned.config, shapes, 4)
    per_block = 9 * 2 * 2 * 8 * 4  # 9 positions, a key and a value, 2 KV heads of 8, float32
    loops = sum(block_passes(pruned.config))
    assert kv_cache_bytes(pruned.config, 1, 9, torch.float32) == loops * per_block
    once = read_params(pruned.config) - sum(block_param_count(pruned.config, s)
                                            for s in shapes)
    assert once == VOCAB * 32 + VOCAB + 2 * 3 * block_param_count(pruned.config, shapes[2]) \
        - 2 * len(drop) * block_param_count(pruned.config, shapes[2])


@pytest.mark.parametrize("mode", ["per_loop", "last_loop"])
def test_a_depth_plans_kv_cache_is_what_the_pruned_models_cache_holds(mode, tmp_path):
    """A depth plan of 2 of blocks 1..4 (sizing.plan_blocks; 0 and 5 protected): with
    "last_loop" every block holds one cache layer, so the KV heads kept are one figure; with
    "per_loop" a recurrent block holds one a loop, so the criterion's choice decides, and the
    plan gives the fewest and the most (`kv_heads_kept_range`): each the KV heads that
    transformers' cache of a model pruned so holds (two recurrent blocks removed, or block 1
    and one), every choice between. `prunebench plan` shows them in bytes."""
    from prunebench.cli import format_rows, plan_rows

    config = small(recurrent_kv_cache_mode=mode, sliding_window=16)
    model = random_model(config)
    plan = sizing.plan_blocks(config, int(0.75 * count_params(config)), 1, 1)
    assert plan["blocks_removed"] == 2
    held = set()
    for drop in itertools.combinations(range(1, 5), 2):
        pruned = remove_blocks(copy.deepcopy(model), list(drop))
        with torch.no_grad():
            cache = pruned(input_ids=ids(1, 9), use_cache=True).cache
        held.add(held_bytes(cache) // (9 * 2 * 8 * 4))  # a key and a value of 8, float32
    if mode == "last_loop":
        assert held == {plan["kv_heads_kept"]} == {8} and "kv_heads_kept_range" not in plan
        return
    assert held == {12, 16} and plan["kv_heads_kept"] is None
    assert plan["kv_heads_kept_range"] == [12, 16]
    folder = write(tmp_path / "dory", config_json())
    (tmp_path / "c.yaml").write_text(json.dumps({
        "models": {"dory": {"source": f"local:{folder}", "variants": ["dense", "depth_mag-0.75"]}},
        "methods": {"depth_mag": {"params": {"protect_first": 1, "protect_last": 1}}}}))
    rows = plan_rows(tmp_path / "c.yaml", tmp_path)
    assert rows[0]["kv_bytes"] == 24 * 2 * 8 * 2  # float16 on a GPU (dtype auto)
    assert rows[1]["kv_bytes"] is None and rows[1]["kv_bytes_range"] == [12 * 32, 16 * 32]
    assert "| data-dependent: 0.4 KiB (50%) to 0.5 KiB (67%) |" in format_rows(rows)


# --------------------------------------------------------------------------- the criteria

def test_shortgpt_sums_a_looped_blocks_passes(model):
    """A recurrent block's Block Influence is its passes' summed (each pass's input against its
    output, over every token), a block run once its one pass's."""
    x = ids(2, 12)
    passes: dict[int, list[float]] = {}
    handles = []
    for i, layer in enumerate(model.model.layers):
        def hook(module, args, kwargs, output, i=i):
            entering = args[0] if args else kwargs["hidden_states"]
            cos = F.cosine_similarity(entering.float(), output.float(), dim=-1)
            passes.setdefault(i, []).append(1 - cos.double().mean().item())
        handles.append(layer.register_forward_hook(hook, with_kwargs=True))
    try:
        with torch.no_grad():
            model.model(input_ids=x, use_cache=False)
    finally:
        for handle in handles:
            handle.remove()
    assert [len(passes[i]) for i in range(6)] == block_passes(model.config)
    scores = block_influence(model, x, batch_size=2)
    assert scores == pytest.approx([sum(passes[i]) for i in range(6)], rel=1e-9, abs=1e-12)


def test_depth_mag_weighs_a_looped_block_by_its_passes(model):
    """Mag+: the block's |w| summed, times its passes."""
    magnitudes = [sum(float(p.detach().abs().sum(dtype=torch.float64))
                      for name, p in layer.named_parameters() if name.endswith("weight"))
                  for layer in model.model.layers]
    assert magnitude_scores(model) == pytest.approx(
        [n * m for n, m in zip(block_passes(model.config), magnitudes)], rel=1e-12)


# --------------------------------------------------------------------------- refusals

def test_below_its_release_everything_that_builds_it_is_refused(tmp_path, monkeypatch):
    check_refused_below_its_release("dory", "5.24.0", config_json(), tmp_path, monkeypatch)


def test_width_methods_blockpruner_depth_angular_and_the_compiled_backend_refuse_it(model):
    config = small()
    check_width_and_compiled_refused(config, r"this 'dory' model")
    x = ids(4, 12)
    with pytest.raises(PrunebenchError, match=r"blockpruner .*this 'dory' model .*depth_mag, "
                                              r"sleb, shortgpt\)"):
        blockpruner(copy.deepcopy(model), x, count_params(config) - 1000)
    for angular in (lambda: sizing.plan_depth_angular(config, count_params(config) - 1000),
                    lambda: depth_angular.prune(copy.deepcopy(model), x,
                                                count_params(config) - 1000)):
        with pytest.raises(PrunebenchError, match=r"depth_angular does not support this 'dory' "
                                                  r"model .*n_recurrent_loops=3 times a token"):
            angular()


@pytest.mark.parametrize("over,words", [
    ({"num_hidden_layers": 5, "layer_types": None, "n_recurrent_layers": None},
     r"n_recurrent_layers -1 and n_output_layers 2 blocks .* do not split its 5 blocks"),
    ({"n_output_layers": 3}, r"n_output_layers is odd"),
    ({"layer_types": ["mlp", "sliding_attention"] * 6}, r"which they do not alternate"),
    ({"n_recurrent_loops": 0}, r"n_recurrent_loops is 0")])
def test_config_jsons_transformers_builds_otherwise_are_refused(over, words, tmp_path):
    """Read without transformers: sections that do not split the blocks (DoryConfig would build
    a negative recurrent section), an odd doubled size (halving drops a block), a doubled
    layer_types that does not alternate, no loop."""
    raw = {k: v for k, v in config_json(**over).items() if v is not None}
    assert unreproduced_layout(raw) is not None
    with pytest.raises(PrunebenchError, match=words):
        checked_config_json(write(tmp_path, raw))


def test_hf_static_is_refused_for_last_loop_below_5_25(monkeypatch):
    """5.24's earlier loops read the last loop's static cache layer whole beside their own keys
    (generate with a static cache fails: a RuntimeError of the mask's size, seen on the 5.24.0
    wheel): refused there (faked here) for "last_loop", not for "per_loop" nor on 5.25."""
    from prunebench.benchmark.runners import static_cache_problem
    from prunebench.checkpoint import param_count

    last_loop, per_loop = small(recurrent_kv_cache_mode="last_loop"), small()
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.25.0")
    assert static_cache_problem(random_model(last_loop)) is None
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.24.0")
    assert static_cache_problem(random_model(per_loop)) is None
    with pytest.raises(PrunebenchError, match=r"hf_static backend cannot run a Dory model with "
                                              r"recurrent_kv_cache_mode \"last_loop\" on "
                                              r"transformers 5.24.0"):
        bench.HFStaticRunner(random_model(last_loop), 2)
