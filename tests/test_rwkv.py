"""RWKV (rwkv, RwkvForCausalLM: the RWKV-4 "Pile" and "Raven" checkpoints): blocks of time
mixing (the WKV recurrence) and channel mixing, no attention heads, a state of five vectors a
block. Exact counts (against transformers' meta model, from config.json's values alone and by
hand); depth pruning equal to transformers' model of the kept blocks, reloaded by prunebench
and by transformers, whichever blocks go: block 0's pre_ln (the embeddings' norm) moved to the
block left first, and RwkvModel's rescale_every (it divides the output weights by the blocks'
positions in place at its first forward in eval mode) undone before blocks are removed and
before weights are saved, each shown to matter; the depth methods' scoring without blocks
equal to the pruned model's; the hf backend's tokens equal to transformers' generate; the state
bytes; the refusals (width methods, surgery, the compiled decoder, hf_static; at the start the
compiled and hf_static backends and +lora; another attention_hidden_size, which transformers
cannot decode). tests/test_families.py runs the shared per-family
tests on it too."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import RwkvConfig, RwkvForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench import benchmark as bench
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, refuse_moe)
from prunebench.methods import surgery
from prunebench.methods.depth import calibration_nll, without_blocks
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from test_deepseek import ids, logits, numel
from test_families import VOCAB, certain_steps, family_model, in_allocated_memory
from test_qwen3_next import no_cache_greedy

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**over) -> RwkvConfig:
    """Five blocks of hidden 32 (an MLP of 64), rescale_every 2: blocks 2-3 divide their
    output weights by 2 and block 4 by 4, and the hidden states are halved after blocks 1 and
    3; untied, as published."""
    values = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=5, intermediate_size=64,
                  rescale_every=2, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                  pad_token_id=0)
    return RwkvConfig(**{**values, **over})


def model_of(config=None, seed: int = 0):
    """A random model of `config` (`small()`'s), its norms and embeddings as
    test_families.family_model draws them, run once in eval mode (its output weights then
    divided by their blocks' positions, as any forward leaves them)."""
    config = config or small()
    values = {k: getattr(config, k) for k in ("num_hidden_layers", "hidden_size", "rescale_every",
                                              "attention_hidden_size", "intermediate_size")}
    model = family_model("rwkv", seed=seed, **values)
    logits(model, ids())
    return model


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("over", [{}, {"attention_hidden_size": 48, "intermediate_size": 80},
                                  {"tie_word_embeddings": True}])
def test_counts_equal_transformers_parameters(over):
    """Another attention width and MLP width, tied or not: the closed form and config_from_dict
    of the config.json values (with attention_hidden_size and intermediate_size, and where
    unset without them: hidden_size and 4 x hidden_size) equal transformers' model's
    parameters (its own class: prunebench refuses to build another attention width, below)."""
    config = small(**over)
    with torch.device("meta"):
        assert numel(RwkvForCausalLM(config)) == count_params(config)
    values = json.loads(config.to_json_string())
    assert count_params(config_from_dict(values)) == count_params(config)
    bare = {k: v for k, v in values.items() if k not in ("attention_hidden_size",
                                                         "intermediate_size")}
    default = small(**{**over, "intermediate_size": None, "attention_hidden_size": None})
    assert count_params(config_from_dict(bare)) == count_params(default) == numel(
        build_model(default, device="meta"))


def test_the_count_is_the_sum_of_each_part_by_hand():
    d, m = 32, 64
    block = (2 * 2 * d  # ln1, ln2: weights and biases
             + 2 * d + 3 * d + 4 * d * d  # time_decay, time_first, time_mix x 3, 4 Linears
             + 2 * d + 2 * d * m + d * d)  # time_mix x 2, key / value, receptance
    # the embeddings, pre_ln, ln_out and the untied head
    assert count_params(small()) == VOCAB * d + 2 * d + 2 * d + VOCAB * d + 5 * block


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int], pre_ln: bool = True):
    """transformers' own model of `model`'s blocks `keep` (renumbered) with their trained
    weights (`trained`), block 0's pre_ln on its first block (`pre_ln` False: as built,
    ones and zeros)."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    kept = RwkvForCausalLM(config).eval()
    state = kept.state_dict()
    for name, tensor in trained(model).items():
        parts = name.split(".")
        if name.startswith("rwkv.blocks.") and parts[3] == "pre_ln":
            if pre_ln:
                state[".".join(parts[:2] + ["0"] + parts[3:])] = tensor
        elif name.startswith("rwkv.blocks."):
            if int(parts[2]) in keep:
                state[".".join(parts[:2] + [str(keep.index(int(parts[2])))] + parts[3:])] = tensor
        else:
            state[name] = tensor
    kept.load_state_dict(state, strict=True)
    return kept


def trained(model) -> dict[str, torch.Tensor]:
    """`model`'s weights as trained: its output weights multiplied back by the powers of two
    its forward divided them by (RwkvModel.layers_are_rescaled)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if model.rwkv.layers_are_rescaled:
        for i in range(model.config.num_hidden_layers):
            for name in ("attention.output", "feed_forward.value"):
                state[f"rwkv.blocks.{i}.{name}.weight"] *= 2 ** (i // model.config.rescale_every)
    return state


@pytest.mark.parametrize("drop", [[0], [1], [0, 2, 3], [0, 1, 2]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """The pruned model (run before: its weights divided by the old positions), and its save
    reloaded by prunebench and by transformers, compute the logits of transformers' model of
    the kept blocks, block 0's pre_ln on the first (the embeddings' norm: kept whichever
    blocks go), down to two blocks; each block's state index its new one."""
    model, x = model_of(), ids()
    keep = [i for i in range(5) if i not in drop]
    expected = logits(kept_blocks_model(model, keep), x)
    remove_blocks(model, drop)
    blocks = model.rwkv.blocks
    assert [(b.layer_id, b.attention.layer_id, b.feed_forward.layer_id) for b in blocks] == [
        (i, i, i) for i in range(len(keep))]
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, x), expected)
    save_model(model, None, tmp_path)
    assert torch.equal(logits(load_model(tmp_path), x), expected)
    theirs = in_allocated_memory(RwkvForCausalLM.from_pretrained(tmp_path,
                                                                 dtype=torch.float32)).eval()
    assert torch.equal(logits(theirs, x), expected)


def test_a_prune_leaving_one_block_is_refused():
    """transformers cannot build an RWKV model of one block (its init divides by
    num_hidden_layers - 1): refused when the prune is planned and by remove_blocks, the model
    left whole."""
    from prunebench.methods.sizing import check_kinds_left

    with pytest.raises(ZeroDivisionError):
        RwkvForCausalLM(small(num_hidden_layers=1))
    with pytest.raises(PrunebenchError, match="fewer than 2 RWKV blocks .*num_hidden_layers - 1"):
        check_kinds_left(small(), list(range(5)), 4)
    check_kinds_left(small(), list(range(5)), 3)
    model = model_of()
    with pytest.raises(PrunebenchError, match="leave this RWKV model 1 block: RwkvPre"):
        remove_blocks(model, [0, 1, 2, 3])
    assert len(model.rwkv.blocks) == model.config.num_hidden_layers == 5


def test_block_0s_pre_ln_matters():
    """Without block 0's trained pre_ln (transformers' model of the other blocks as built) the
    logits differ: a prune of block 0 that dropped it would compute another model."""
    model, x = model_of(), ids()
    unnormed = logits(kept_blocks_model(model, [1, 2, 3, 4], pre_ln=False), x)
    remove_blocks(model, [0])
    assert not torch.allclose(logits(model, x), unnormed, atol=1e-3)


def test_the_saved_weights_are_the_trained_ones_whatever_ran_before(tmp_path):
    """RwkvModel's forward in eval mode divides each block's output weights in place by 2 **
    (position // rescale_every) (blocks 2-4 here: the quirk's effect, checked): the
    checkpoint holds the trained ones, which transformers divides again when it runs it."""
    torch.manual_seed(0)
    model = RwkvForCausalLM(small()).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    logits(model, ids())
    divided = model.rwkv.blocks[4].attention.output.weight
    assert torch.equal(divided * 4, before["rwkv.blocks.4.attention.output.weight"])
    save_model(model, None, tmp_path)
    saved = load_file(tmp_path / "model.safetensors")
    assert saved.keys() == before.keys()
    assert all(torch.equal(saved[k], before[k]) for k in before)


def test_scoring_without_blocks_computes_the_pruned_model():
    """The depth methods' scoring runs the model without some blocks (depth.without_blocks:
    stand-ins at their positions, block 0's running pre_ln): its calibration loss is the
    pruned model's (remove_blocks, its weights divided by the new positions), but for the
    norms' epsilon over the halved hidden states; the model is whole again after."""
    model, calibration = model_of(), ids(4, 12, seed=3)
    whole = calibration_nll(model, calibration, 2)
    with without_blocks(model, {0, 1, 3}):
        scored = calibration_nll(model, calibration, 2)
    assert calibration_nll(model, calibration, 2) == pytest.approx(whole, rel=1e-6)
    remove_blocks(model, [0, 1, 3])
    assert scored == pytest.approx(calibration_nll(model, calibration, 2), rel=1e-5)
    assert abs(scored - whole) > 1e-3  # (the blocks left out change the loss)


# --------------------------------------------------------------------------- backends

def test_the_hf_backend_decodes_a_depth_pruned_model_as_transformers_generate(tmp_path):
    """A depth-pruned model (blocks 0 and 2 gone, each state index its new one) reloaded: the
    hf backend's tokens of one sequence equal transformers' generate of its own loading of the
    checkpoint (RwkvForCausalLM's own state, 5.17 and 5.25) and greedy decoding without a state
    wherever that choice is certain; hf_static refused (generate ignores the static cache for
    it), and so is a batch of two (transformers' decode step mixes the sequences: shown)."""
    model = model_of()
    remove_blocks(model, [0, 2])
    save_model(model, None, tmp_path)
    ours = load_model(tmp_path)
    theirs = in_allocated_memory(RwkvForCausalLM.from_pretrained(tmp_path,
                                                                 dtype=torch.float32)).eval()
    for seed in (5, 6):
        prompt, n_new = ids(1, 7, seed=seed), 8
        mask = torch.ones_like(prompt)
        tokens = bench.HFRunner(ours, n_new).generate(prompt, mask)
        with torch.inference_mode():
            reference = theirs.generate(input_ids=prompt, attention_mask=mask, do_sample=False,
                                        max_new_tokens=n_new, min_new_tokens=n_new,
                                        pad_token_id=0)
        assert torch.equal(tokens, reference)
        uncached, scores = no_cache_greedy(ours, prompt, n_new)
        k, = certain_steps(scores)
        assert k > 0 and torch.equal(tokens[0, :7 + k], uncached[0, :7 + k])
    with pytest.raises(PrunebenchError, match="hf_static backend cannot run an RWKV model"):
        bench.HFStaticRunner(ours, n_new)
    two = ids(2, 7, seed=5)
    with pytest.raises(PrunebenchError, match="batch of more than one sequence of an RWKV"):
        bench.HFRunner(ours, n_new).generate(two, torch.ones_like(two))
    with torch.no_grad():  # transformers' step of two sequences: logits [2, 2, vocab]
        state = ours(input_ids=two, use_cache=True).state
        step = ours(input_ids=two[:, -1:], state=state, use_cache=True).logits
    assert step.shape == (2, 2, VOCAB)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_state_a_step_reads_is_what_transformers_keeps(dtype):
    """Each block's state: the last inputs of its time and channel mixing (hidden_size each, in
    the model's dtype) and the WKV numerator, denominator and maximum (float32), whatever the
    length: kv_cache_bytes equals the bytes of RwkvModel's state, before and after a prune."""
    model = model_of().to(dtype)
    for drop in ([], [1]):
        remove_blocks(model, drop)
        for batch, length in ((1, 5), (2, 9)):
            with torch.no_grad():
                state = model(input_ids=ids(batch, length), use_cache=True).state
            assert [s.dtype for s in state] == [dtype] * 2 + [torch.float32] * 3
            assert sum(s.nbytes for s in state) == kv_cache_bytes(model.config, batch, length,
                                                                  dtype)


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("width", [16, 48])
def test_another_attention_width_is_refused_as_transformers_cannot_decode_it(width, tmp_path):
    """attention_hidden_size other than hidden_size: transformers builds the model (counted
    right, above) and runs it without a cache, but RwkvModel keeps the WKV state hidden_size
    wide, so a cached forward stops on the shapes; refused when config.json is read and when
    a model is built, naming the key (hidden_size itself, or none, is taken)."""
    config = small(attention_hidden_size=width)
    theirs = RwkvForCausalLM(config).eval()
    assert theirs(input_ids=ids(1, 4), use_cache=False).logits.shape == (1, 4, VOCAB)
    with pytest.raises(RuntimeError, match="size of tensor"):
        theirs(input_ids=ids(1, 4), use_cache=True)
    what = f"attention_hidden_size={width} for an RWKV model of hidden_size=32"
    with pytest.raises(PrunebenchError, match=what):
        build_model(config, device="meta")
    config.save_pretrained(tmp_path / "m")
    with pytest.raises(PrunebenchError, match=what):
        checked_config_json(tmp_path / "m")
    build_model(small(attention_hidden_size=32), device="meta")


def test_width_methods_and_the_compiled_backend_refuse_it():
    """Refused naming what runs it: depth methods and the hf backend at batch size 1 (never
    hf_static, which the runner and the start refuse)."""
    what = r"this 'rwkv' model .*RWKV's time mixing"
    with pytest.raises(FamilyUnsupported, match=f"flap .*{what}.*depth method.*the hf backend "
                       r"at batch size 1 \(hf_static and larger batches do not run it"):
        refuse_moe(small(), "flap (width pruning)")
    model = build_model(small(), device="cpu")
    with pytest.raises(FamilyUnsupported, match=f"width surgery.*{what}"):
        surgery.remove_channels(model, 1, [0])
    with pytest.raises(FamilyUnsupported, match=f"compiled backend.*{what}"):
        StaticDecoder(model, 1, 8, mode="eager")


def test_the_start_refuses_the_compiled_and_hf_static_backends_and_lora(tmp_path):
    """Its config known at the start: the compiled backend refused naming its mixer, hf_static
    refused (generate ignores the static cache for it, as HFStaticRunner says), a +lora variant
    refused (no projection LoRA's targets name), batch sizes above one refused (transformers'
    decode step mixes the sequences); nothing refused without them."""
    from prunebench.benchmark.runners import HFStaticRunner
    from prunebench.plan.checks import (batched_state_problems, moe_problems,
                                        static_cache_problems)

    small().save_pretrained(tmp_path / "m")
    runs = {"models": {"m": {"source": f"local:{tmp_path / 'm'}",
                             "variants": ["dense", "depth_ppl-0.8+lora"]}},
            "benchmark": {"backends": ["hf", "hf_static", "compiled"], "batch_sizes": [1, 4]}}
    compiled, recovery = moe_problems(runs, tmp_path / "nowhere")
    assert compiled.startswith("models.m (rwkv) ") and "(RWKV's WKV recurrence)" in compiled
    assert compiled.endswith("(hf runs it)")  # (not hf_static: refused below)
    assert recovery.startswith("models.m (rwkv) is an RWKV model") and "+lora" in recovery
    static, = static_cache_problems(runs, tmp_path / "nowhere")
    assert static.startswith("models.m: the hf_static backend cannot run an RWKV model")
    with pytest.raises(PrunebenchError, match="hf_static backend cannot run an RWKV model"):
        HFStaticRunner(model_of(), 4)
    batched, = batched_state_problems(runs, tmp_path / "nowhere")
    assert batched.startswith("models.m: the hf backend cannot decode a batch of more than one")
    assert "(benchmark.batch_sizes give more; the batch sizes are every model's" in batched
    # the paired benchmark's batch sizes too (its jobs run the same HFRunner.generate)
    runs["benchmark"] = {"backends": ["hf"], "batch_sizes": [1],
                         "paired": {"token_configs": ["4x4"], "batch_sizes": [1, 8]}}
    batched, = batched_state_problems(runs, tmp_path / "nowhere")
    assert "(benchmark.paired.batch_sizes give more;" in batched
    runs["models"]["m"]["variants"] = ["dense"]
    runs["benchmark"] = {"backends": ["hf"], "batch_sizes": [1]}
    assert moe_problems(runs, tmp_path / "nowhere") == []
    assert static_cache_problems(runs, tmp_path / "nowhere") == []
    assert batched_state_problems(runs, tmp_path / "nowhere") == []
