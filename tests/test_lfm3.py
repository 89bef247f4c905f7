"""LFM3 (lfm3, Lfm3ForCausalLM; transformers 5.23 on): LFM2's hybrid of gated short
convolutions and attention with windowed attention blocks too, Qwen3's attention gated a head
(g_proj), sandwich norms, depth pruned and benchmarked with the hf / hf_static backends.

Its own pieces against transformers' classes at float32: counts (the gate and the sandwich
norms by their switches, biases, tying) against meta models, against config.json read alone
(layer_types derived as Lfm3Config derives them) and by hand; depth pruning equal to
transformers' model of the kept blocks (layer_types renumbered, windowed blocks kept as
such), reloaded by prunebench and by transformers, decoded by the hf backends as transformers'
generate; the cache a step reads (a windowed block's keys included); the refusals (width
methods, surgery, the compiled decoder; a prune or a config.json without an attention block;
block kinds LFM3 has not; rope_parameters without a kind's entry; transformers before 5.23).
The tests that build its classes skip on an older transformers (make test-floor's 5.17), where
the refusal is tested instead.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint import param_count
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, lfm3_layer_types,
                                               transformers_release_problem)
from prunebench.modeling import build_model, remove_blocks
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB
from test_granitemoehybrid import check_width_and_compiled_refused
from test_lfm2 import check_counted_as_built
from test_nemotron_h import check_saved_and_reloaded
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers, check_cache_bytes

pytestmark = pytest.mark.usefixtures("one_thread")

CONV, FULL, WINDOW = "conv", "full_attention", "sliding_attention"
# Five blocks: convolutions first and third, full attention second, windowed fourth and last
KINDS = [CONV, FULL, CONV, WINDOW, WINDOW]


def small(**over):
    """A small LFM3: attention of 4 query heads of 8 on 2 KV heads, a 4-token window on the
    windowed blocks, a gate a head and sandwich norms (its defaults); short convolutions of 3
    taps; an MLP of 48; untied. Skipped where this transformers predates LFM3."""
    if problem := transformers_release_problem("lfm3"):
        pytest.skip(problem)
    from transformers import Lfm3Config

    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=5,
                  layer_types=KINDS, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                  conv_L_cache=3, sliding_window=4, max_position_embeddings=128,
                  tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return Lfm3Config(**{**values, **over})


def kinds_of(model) -> list[str]:
    """Each block's token mixer as built (an attention's window: its kind)."""
    return [CONV if hasattr(layer, "conv") else WINDOW if layer.self_attn.sliding_window
            else FULL for layer in model.model.layers]


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("over", [
    {}, {"use_attention_gate": False}, {"use_sandwich_norm": False},
    {"attention_bias": True, "conv_bias": True, "conv_L_cache": 5},
    {"layer_types": [FULL, WINDOW, FULL, WINDOW, FULL], "tie_word_embeddings": True}])
def test_counts_equal_transformers_parameters(over, tmp_path):
    """The attention gate and the sandwich norms by their switches, biases, taps and tying:
    the closed form equals transformers' meta model, and so does the count of the config.json
    it writes read alone."""
    check_counted_as_built(small(**over), tmp_path)


def test_the_count_is_the_sum_of_each_part_by_hand():
    """small(): the MLP 3 x 32 x 48 = 4,608; a short convolution 32 x 96 + 32 x 3 + 32 x 32 =
    4,192; attention 2 x 32 x 32 + 2 x 32 x 16 = 3,072, its q/k norms 2 x 8 and its gate 32 x
    4 = 128; four norms of 32 a block (the sandwich's two among them); embeddings, the LM head
    and the final norm 2 x 128 x 32 + 32. Without the gate or the sandwich norms, less by
    theirs: the count would be wrong if either were ignored."""
    config = small()
    blocks = 2 * (4192 + 4608 + 128) + 3 * (3072 + 16 + 128 + 4608 + 128)
    assert count_params(config) == blocks + 2 * VOCAB * 32 + 32 == 49_936
    assert count_params(small(use_attention_gate=False)) == 49_936 - 3 * 128
    assert count_params(small(use_sandwich_norm=False)) == 49_936 - 5 * 64


def test_a_config_json_without_layer_types_is_read_as_lfm3config_derives_them(tmp_path):
    """Lfm3Config's blocks where config.json names none (of every four the third full
    attention, the first windowed but block 0, the others convolutions): read alone, they and
    the count are transformers' model's."""
    raw = {k: v for k, v in small(num_hidden_layers=9, layer_types=None).to_dict().items() if k != "layer_types"}
    (tmp_path / "config.json").write_text(json.dumps(raw))
    from transformers import Lfm3Config

    theirs = Lfm3Config.from_pretrained(tmp_path)
    assert theirs.layer_types == lfm3_layer_types(9) == [
        CONV, CONV, FULL, CONV, WINDOW, CONV, FULL, CONV, WINDOW]
    counted = config_from_dict(checked_config_json(tmp_path))
    assert counted.layer_types == theirs.layer_types
    assert count_params(counted) == numel(build_model(theirs, device="meta"))


# --------------------------------------------------------------------------- depth

def kept_blocks_model(model, keep: list[int]):
    """transformers' own model of `model`'s blocks `keep` (renumbered): a config of that depth
    with the kept blocks' layer_types, given those weights."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    config.layer_types = [KINDS[i] for i in keep]
    kept = type(model)(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept


@pytest.mark.parametrize("drop", [[0], [1], [2, 3], [0, 4], [1, 2]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """Removing short-convolution, full or windowed attention blocks (every full-attention
    block too: a windowed one sizes the cache as well): layer_types name the kept blocks by
    their new indices, each kept mixer takes its new index (the cache's), and the pruned
    model, its save reloaded by prunebench and by transformers compute the logits of
    transformers' model of the kept blocks."""
    model = random_model(small())
    keep = [i for i in range(5) if i not in drop]
    kinds = [KINDS[i] for i in keep]
    x = ids(1, 12)  # (longer than the window)
    expected = logits(kept_blocks_model(model, keep), x)
    remove_blocks(model, drop)
    assert model.config.layer_types == kinds == kinds_of(model)
    for new, layer in enumerate(model.model.layers):
        assert (layer.conv if hasattr(layer, "conv") else layer.self_attn).layer_idx == new
    written = check_saved_and_reloaded(model, x, expected, tmp_path / "pruned", kinds_of)
    assert written["layer_types"] == kinds


def test_the_window_matters():
    """The windowed blocks attend over their last 4 tokens: the same weights with the window
    wider than the input compute other logits at 12 tokens, so a prune that kept a windowed
    block as a full one would not be the model scored."""
    model = random_model(small())
    wide = kept_blocks_model(model, list(range(5)))
    wide.config.sliding_window = 64
    wide = type(model)(wide.config).eval()
    wide.load_state_dict(model.state_dict())
    x = ids(1, 12)
    assert not torch.allclose(logits(model, x), logits(wide, x), atol=1e-4)


@pytest.mark.parametrize("drop", [[0], [1], [2, 3]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """A depth-pruned model reloaded: the hf backend's tokens equal transformers' generate of
    its own loading of the checkpoint, and greedy decoding without a cache wherever that
    choice is certain; so do hf_static's."""
    model = random_model(small())
    check_a_depth_pruned_reload_decodes_as_transformers(
        model, drop, type(model), tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_cache_a_step_reads_is_what_transformers_cache_holds(dtype):
    """kv_cache_bytes: the attention blocks' keys and values and each short convolution's conv
    state, equal to the tensors transformers' cache holds after a prefill; a depth-pruned
    model's (without block 1) too. (A window wider than the prefills: kv_cache_bytes counts
    what a step reads, a window's worth, where the cache holds one position less before it.)"""
    check_cache_bytes(random_model(small(sliding_window=16)).to(dtype), dtype)


def test_removing_every_attention_block_is_refused_before_anything_changes():
    """Without an attention block of either kind transformers 5.23 and 5.24 cannot read the
    cache's length: the removal is refused, naming the attention blocks and what to do; the
    model is left whole. (5.25's own model of those blocks runs: the refusal is the older
    releases', which LFM3 supports.)"""
    model = random_model(small())
    x = ids()
    before = logits(model, x)
    with pytest.raises(PrunebenchError, match=r"would leave this LFM3 model short convolution "
                       r"blocks only \(its full or windowed attention blocks are \[1, 3, 4\]\): "
                       r"transformers 5.23 and 5.24"):
        remove_blocks(model, [1, 3, 4])
    assert model.config.layer_types == KINDS and torch.equal(logits(model, x), before)


def test_a_plan_without_an_attention_block_is_refused_from_the_config():
    """plan_blocks (prunebench plan, the start's checks) refuses a size whose removable blocks
    cannot keep an attention block, windowed ones counted as such."""
    from prunebench.methods.sizing import check_kinds_left

    config = small()
    check_kinds_left(config, [0, 2, 3, 4], 3)  # (a windowed block can stay)
    with pytest.raises(PrunebenchError, match=r"no full or windowed attention block "
                       r".*\[1, 3, 4\]\): transformers 5.23 and 5.24"):
        check_kinds_left(config, [1, 2, 3, 4], 4)


# --------------------------------------------------------------------------- refusals

def test_width_methods_surgery_and_the_compiled_backend_are_refused():
    """A width method's plan, width surgery and the compiled decoder refuse LFM3, also when
    every block is attention, naming the depth methods and the hf backends."""
    said = r"this 'lfm3' model \(Lfm3ForCausalLM\): its blocks hold gated short convolutions"
    check_width_and_compiled_refused(small(), said)
    check_width_and_compiled_refused(small(layer_types=[FULL, WINDOW] * 2 + [FULL]), said)


def test_the_start_refuses_the_compiled_backend_for_an_lfm3_model(tmp_path):
    """An LFM3 model whose config is known at the start is told of the compiled backend
    there, not by its benchmark job."""
    from prunebench.plan.checks import moe_problems

    small().save_pretrained(tmp_path / "lfm3")
    runs = {"models": {"lfm3": {"source": f"local:{tmp_path / 'lfm3'}", "variants": ["dense"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problem, = moe_problems(runs, tmp_path / "nowhere")
    assert problem.startswith("models.lfm3 (lfm3) is an LFM3 model")


@pytest.mark.parametrize("change, said", [
    ({"layer_types": [CONV] * 5}, "gives no attention block"),
    ({"layer_types": [CONV, "linear_attention", CONV, WINDOW, FULL]},
     r"gives layer_types \['linear_attention'\]"),
    ({"rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}},
     r"gives rope_parameters without an entry for \['full_attention', 'sliding_attention'\]"),
    ({"rope_parameters": {FULL: {"rope_type": "default", "rope_theta": 10000.0}}},
     r"gives rope_parameters without an entry for \['sliding_attention'\]")])
def test_a_config_json_transformers_cannot_run_is_refused(change, said, tmp_path):
    """No attention block, a block kind LFM3's model has no mask for, or rotary settings
    without a kind its blocks are (transformers' build stops on a KeyError) are refused as
    read, saying what to do; transformers' own class stops building the last two."""
    raw = {**{k: v for k, v in small().to_dict().items() if v is not None}, **change}
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match=f"config.json {said}.*rebuild"):
        checked_config_json(tmp_path)
    if "rope_parameters" in change:
        from transformers import Lfm3Config

        with pytest.raises(KeyError):
            build_model(Lfm3Config.from_pretrained(tmp_path), device="meta")


def test_an_older_transformers_is_refused_naming_the_upgrade(tmp_path, monkeypatch):
    """Before 5.23 (make test-floor's 5.17 really; faked on a newer one) building an LFM3
    model is refused naming the release to install, while its config.json is still read and
    counted; 5.23.0 itself builds it."""
    from prunebench.modeling import config_class, load_model

    if transformers_release_problem("lfm3") is None:
        for namespace in (param_count, param_count.releases, param_count.prune_rules):
            monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.22.2")
    raw = {"model_type": "lfm3", "vocab_size": VOCAB, "hidden_size": 32,
           "intermediate_size": 48, "num_hidden_layers": 4, "num_attention_heads": 4,
           "num_key_value_heads": 2, "head_dim": 8}
    (tmp_path / "config.json").write_text(json.dumps(raw))
    upgrade = r"needs transformers 5.23.0 or newer .*pip install -U \"transformers>=5.23.0\""
    for builds in (lambda: config_class("lfm3"), lambda: load_model(tmp_path)):
        with pytest.raises(FamilyUnsupported, match=upgrade):
            builds()
    counted = config_from_dict(checked_config_json(tmp_path))
    assert counted.layer_types == [CONV, CONV, FULL, CONV] and count_params(counted) > 0
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.23.0")
    assert transformers_release_problem("lfm3") is None
