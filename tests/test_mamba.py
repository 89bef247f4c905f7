"""Mamba (mamba, MambaForCausalLM: state-spaces/mamba-*-hf) and FalconMamba (falcon_mamba,
FalconMambaForCausalLM: tiiuae/falcon-mamba-7b): pure stacks of Mamba-1 blocks (a norm and a
mixer: in_proj, a depthwise conv1d, x_proj, dt_proj, A_log, D, out_proj; FalconMamba's norms
of B, C and dt without parameters), no attention at all. Exact counts (against transformers'
meta model, config.json's values alone and by hand, over biases, tying and the dt rank);
depth pruning equal to transformers' model of the kept blocks, reloaded by prunebench and by
transformers, down to one block (no attention block needed); the hf and hf_static backends'
tokens of a depth-pruned model equal to transformers' generate and to greedy decoding without
a cache; the state a step reads equal to what transformers' cache holds; the refusals (width
methods, surgery, the compiled decoder; at the start the compiled backend and +lora).
tests/test_families.py runs the shared per-family tests on them too."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from transformers import (FalconMambaConfig, FalconMambaForCausalLM, MambaConfig,
                          MambaForCausalLM)

from prunebench.checkpoint.architectures import architecture_config, known_shape_of
from prunebench.checkpoint.param_count import config_from_dict, count_params
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB, in_allocated_memory
from test_granitemoehybrid import check_width_and_compiled_refused
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers, check_cache_bytes

pytestmark = pytest.mark.usefixtures("one_thread")

CLASSES = {"mamba": (MambaConfig, MambaForCausalLM),
           "falcon_mamba": (FalconMambaConfig, FalconMambaForCausalLM)}


def small(name: str = "mamba", **over):
    """A small model of five Mamba-1 blocks: hidden 32, inner 64, a state of 8, a conv of 4;
    untied; weights of std 0.3 (at 0.1 a random Mamba decodes one token over and over)."""
    values = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=5, state_size=8,
                  expand=2, conv_kernel=4, tie_word_embeddings=False, initializer_range=0.3,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    values.update(over)
    return CLASSES[name][0](**values)


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("over", [{}, {"use_bias": True, "use_conv_bias": False},
                                  {"tie_word_embeddings": True}, {"time_step_rank": 5},
                                  {"expand": 3, "state_size": 4, "conv_kernel": 2},
                                  {"expand": 16, "intermediate_size": 64}])
def test_counts_equal_transformers_parameters(name, over):
    """Biases on or off, tied or not, a dt rank set or "auto" (ceil(32 / 16) = 2), another
    width, state and kernel: the closed form, and config_from_dict of the config.json values
    (written with MambaConfig's intermediate_size and time_step_rank, and without them),
    equal model.parameters()."""
    config = small(name, **over)
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    values = json.loads(config.to_json_string())
    assert count_params(config_from_dict(values)) == count_params(config)
    bare = {k: v for k, v in values.items() if k not in ("intermediate_size", "time_step_rank")}
    if "time_step_rank" not in over and "intermediate_size" not in over:
        assert count_params(config_from_dict(bare)) == count_params(config)
    mixer = model.backbone.layers[0].mixer
    rank = over.get("time_step_rank", math.ceil(32 / 16))
    assert tuple(mixer.dt_proj.weight.shape) == (config.intermediate_size, rank)
    if "intermediate_size" in over:
        # falcon-mamba-7b's config.json: expand 16 and intermediate_size 2 x hidden, which
        # wins over expand (the count read from expand would be wrong)
        assert config.intermediate_size == 64 != 16 * 32
        assert count_params(config_from_dict(bare)) != count_params(config)


def test_the_count_is_the_sum_of_each_part_by_hand():
    d, inner, state, rank = 32, 64, 8, 2
    mixer = (d * 2 * inner  # in_proj
             + inner * 4 + inner  # the conv1d's kernels and bias
             + inner * (rank + 2 * state)  # x_proj
             + rank * inner + inner  # dt_proj and its bias
             + inner * state + inner  # A_log, D
             + inner * d)  # out_proj
    for name in CLASSES:  # (FalconMamba's norms of B, C and dt hold no parameters)
        assert count_params(small(name)) == 2 * VOCAB * d + d + 5 * (d + mixer)


def test_the_known_shape_counts_by_hand_and_names_its_hub_ids():
    """mamba-130m (state-spaces/mamba-130m-hf's config.json): tied embeddings of 50280 x 768,
    the final norm, and 24 blocks of a norm and a mixer of inner width 1536, state 16, dt rank
    48, conv kernel 4: 129,135,360, the name's 130M, as transformers builds it."""
    d, inner, state, rank = 768, 1536, 16, 48
    mixer = (d * 2 * inner + inner * 4 + inner + inner * (rank + 2 * state)
             + rank * inner + inner + inner * state + inner + inner * d)
    config = architecture_config("mamba-130m")
    assert type(config) is MambaConfig and config.tie_word_embeddings
    assert count_params(config) == 50280 * d + d + 24 * (d + mixer) == 129_135_360
    assert numel(build_model(config, device="meta")) == 129_135_360
    assert known_shape_of("state-spaces/mamba-130m-hf") == "mamba-130m"
    for other in ("state-spaces/mamba-370m-hf", "tiiuae/falcon-mamba-7b",
                  "state-spaces/mamba2-130m"):  # other shapes (Mamba-2's another family)
        assert known_shape_of(other) is None, other


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int]):
    """transformers' own model of `model`'s blocks `keep` (renumbered)."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    kept = type(model)(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep, blocks="backbone.layers."),
                         strict=True)
    return kept


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("drop", [[0], [4], [1, 3], [0, 1, 2, 3]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(name, drop, tmp_path):
    """The pruned model, and its save reloaded by prunebench and by transformers, compute the
    logits of transformers' model built of the kept blocks; one block left runs (no attention
    block is needed: the cache holds each block's state alone)."""
    check_depth_pruning(random_model(small(name)), drop, ids(), tmp_path / "pruned")


def check_depth_pruning(model, drop: list[int], x, folder) -> None:
    """`model` (a Mamba stack, its blocks under backbone) without blocks `drop`, and its save
    in `folder` reloaded by prunebench and by transformers, compute on `x` the logits of
    transformers' model built of the kept blocks, each mixer's cache index its new one."""
    keep = [i for i in range(model.config.num_hidden_layers) if i not in drop]
    expected = logits(kept_blocks_model(model, keep), x)
    remove_blocks(model, drop)
    assert model.config.num_hidden_layers == len(keep)
    assert [layer.mixer.layer_idx for layer in model.backbone.layers] == list(range(len(keep)))
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, x), expected)
    save_model(model, None, folder)
    again = load_model(folder)
    assert torch.equal(logits(again, x), expected)
    theirs = in_allocated_memory(type(model).from_pretrained(folder, dtype=torch.float32)).eval()
    assert torch.equal(logits(theirs, x), expected)


# --------------------------------------------------------------------------- backends

@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("drop", [[0], [2, 4]])
def test_the_hf_backends_decode_a_depth_pruned_model_as_transformers_generate(name, drop,
                                                                             tmp_path):
    """A depth-pruned model (each mixer's cache index its new one) reloaded: the hf backend's
    tokens equal transformers' generate of its own loading of the checkpoint, and greedy
    decoding without a cache wherever that choice is certain; so do hf_static's (transformers
    5.17 and 5.25 both run a Mamba's generate with a static cache)."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small(name)), drop, CLASSES[name][1], tmp_path / "pruned")


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_state_a_step_reads_is_what_transformers_cache_holds(name, dtype):
    """Each block's conv state (inner x conv_kernel, in the model's dtype) and SSM state
    (inner x state_size, float32), whatever the length: kv_cache_bytes equals the bytes of
    transformers' cache, before and after a depth prune."""
    check_cache_bytes(random_model(small(name)).to(dtype), dtype)


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("name", sorted(CLASSES))
def test_width_methods_and_the_compiled_backend_refuse_it(name):
    check_width_and_compiled_refused(
        small(name), rf"this '{name}' model .*each of its blocks is a norm and a Mamba-1 mixer")


def test_the_start_refuses_the_compiled_backend_and_lora(tmp_path):
    check_the_start_refuses_the_compiled_backend_and_lora(small(), "Mamba-1", tmp_path)


def check_the_start_refuses_the_compiled_backend_and_lora(config, mixer: str, tmp_path):
    """A Mamba stack's config known at the start: the compiled backend refused naming its
    `mixer`, a +lora variant refused; neither refused without them."""
    from prunebench.plan.checks import moe_problems

    config.save_pretrained(tmp_path / "m")
    runs = {"models": {"m": {"source": f"local:{tmp_path / 'm'}",
                             "variants": ["dense", "depth_ppl-0.8+lora"]}},
            "benchmark": {"backends": ["hf", "compiled"]}}
    compiled, recovery = moe_problems(runs, tmp_path / "nowhere")
    name = config.model_type
    assert compiled.startswith(f"models.m ({name}) ") and f"({mixer})" in compiled
    assert recovery.startswith(f"models.m ({name}) is a Mamba model") and "+lora" in recovery
    runs["models"]["m"]["variants"] = ["dense"]
    runs["benchmark"]["backends"] = ["hf", "hf_static"]
    assert moe_problems(runs, tmp_path / "nowhere") == []
