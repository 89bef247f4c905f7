"""OpenAI GPT (openai-gpt, OpenAIGPTLMHeadModel; GPT-1): counts against transformers' models
(meta and built), by hand and from config.json alone; prunebench's model computing
transformers' logits and reloading; depth pruning equal to transformers' model of the kept
blocks; head and MLP channel removal computing the dense model with those heads or channels
silenced (its class builds no narrower heads and reads no MLP width key); the compiled decoder
on a width-pruned model, fused and not, and as generate; its post-LN blocks (a norm after each
residual add, none after the last block) shown to matter to the decoder; hf_static refused
(its class reads no KV cache), by the runner and at the start; its hf rows marked as running
the whole sequence again at every step (`floor_note`, the timed tables' caption); the hub's
base-model names and transformers 4's buffers loaded as transformers loads them.
tests/test_families.py runs the
shared per-family tests on it too (every method, save and reload, every backend, evaluation,
LoRA)."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import torch
from transformers import OpenAIGPTLMHeadModel

from prunebench import PrunebenchError
from prunebench import benchmark as bench
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.checkpoint.param_count import config_from_dict
from prunebench.methods import surgery
from prunebench.modeling import (count_params, count_params_meta, final_norm, load_model,
                                 remove_blocks, save_model)
from prunebench.plan.checks import static_cache_problems
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does
from test_families import FAMILIES, family_model, ids, logits, numel
from test_gpt_neox import width_pruned

pytestmark = pytest.mark.usefixtures("one_thread")

D, V, HEADS, HD = 64, 128, 4, 16  # the family tests' tiny model: 4 heads of 16, MLP 4 x 64


@pytest.mark.parametrize("tied", [True, False])
def test_counts_equal_transformers_parameters(tied):
    """c_attn, c_proj, c_fc and c_proj all biased, an MLP of 4 x n_embd, two LayerNorms with
    biases per block and none after the last, learned positions: transformers' model, the
    meta count, the closed form and config.json's own keys alone agree, as does the hand
    count."""
    config = FAMILIES["openai-gpt"]()
    config.tie_word_embeddings = tied
    model = OpenAIGPTLMHeadModel(config)
    assert count_params(config) == count_params_meta(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)
    block = 3 * D * D + 3 * D + D * D + D + 2 * 4 * D * D + 4 * D + D + 2 * 2 * D
    assert numel(model) == V * D * (1 if tied else 2) + 256 * D + 4 * block


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The tiny model, saved by prunebench, and its depth-pruned copy (blocks 1 and 2 out)."""
    root = tmp_path_factory.mktemp("openai_gpt")
    model = family_model("openai-gpt")
    save_model(model, None, root / "dense")
    save_model(remove_blocks(copy.deepcopy(model), [1, 2]), None, root / "depth")
    return model, root


def test_transformers_computes_prunebenchs_model_and_its_depth_prune(saved):
    """transformers' class loads prunebench's checkpoint (Conv1D weights transposed back) and
    computes its logits; prunebench reloads it bit for bit; the depth-pruned checkpoint is
    transformers' model of the kept blocks (blocks 0 and 3 of the dense model, nothing
    after the last)."""
    model, root = saved
    x = ids(2, 9, seed=1)
    theirs = OpenAIGPTLMHeadModel.from_pretrained(root / "dense").eval()
    torch.testing.assert_close(logits(theirs, x), logits(model, x), rtol=0, atol=1e-5)
    assert torch.equal(logits(load_model(root / "dense"), x), logits(model, x))
    kept = OpenAIGPTLMHeadModel.from_pretrained(root / "depth").eval()
    by_hand = copy.deepcopy(model)
    by_hand.transformer.h = torch.nn.ModuleList([by_hand.transformer.h[0],
                                                 by_hand.transformer.h[3]])
    torch.testing.assert_close(logits(kept, x), logits(by_hand, x), rtol=0, atol=1e-5)
    torch.testing.assert_close(logits(load_model(root / "depth"), x), logits(kept, x),
                               rtol=0, atol=1e-5)


def test_head_and_channel_removal_compute_the_silenced_model():
    """Removing a block's head computes the dense model with that head's c_proj columns zeroed,
    and removing MLP channels the dense model with their c_fc rows and c_proj columns zeroed
    (OpenAIGPTConfig sizes heads by n_embd and the MLP by 4 x n_embd: no transformers model
    of that width to compare with)."""
    model = family_model("openai-gpt")
    silenced = copy.deepcopy(model)
    channels = list(range(0, 4 * D, 3))
    with torch.no_grad():
        silenced.transformer.h[1].attn.c_proj.weight[:, HD:2 * HD] = 0
        silenced.transformer.h[2].mlp.c_fc.weight[channels] = 0
        silenced.transformer.h[2].mlp.c_fc.bias[channels] = 0
        silenced.transformer.h[2].mlp.c_proj.weight[:, channels] = 0
    surgery.remove_heads(model, 1, [1])
    surgery.remove_channels(model, 2, channels)
    assert numel(model) == count_params(model.config)
    x = ids(2, 9, seed=3)
    torch.testing.assert_close(logits(model, x), logits(silenced, x), rtol=0, atol=1e-5)
    assert (logits(model, x) - logits(family_model("openai-gpt"), x)).abs().max() > 1e-3


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_computes_a_width_pruned_model(fuse):
    """A block with one head out, one with every head out (the attention's output bias alone
    left, which ln_1 still norms with the input) and a third of a block's MLP channels out:
    the decoder's prefill logits are transformers', and its greedy tokens generate's."""
    model = width_pruned(family_model("openai-gpt"))
    decoder_gives_transformers_logits(model, fuse=fuse)
    if fuse:
        decodes_as_generate_does(model)


def test_the_post_ln_blocks_matter_to_the_decoder():
    """No final norm (final_norm an identity), and a decoder reading the blocks as pre-LN (a
    norm before each sublayer, none after the residual add) computes another model: the
    agreement above is a real check of the post-LN block."""
    model = family_model("openai-gpt")
    assert isinstance(final_norm(model), torch.nn.Identity)
    prompt = ids(2, 9, seed=6)
    theirs = logits(model, prompt)[:, -1]
    decoder = StaticDecoder(model, 2, 12, mode="eager")
    torch.testing.assert_close(decoder.prefill_logits(prompt), theirs, rtol=0, atol=1e-5)
    for block in decoder.blocks:
        block.post_ln = False
    assert (decoder.prefill_logits(prompt) - theirs).abs().max() > 1e-3


def test_hf_static_is_refused_by_the_runner_and_at_the_start(tmp_path):
    """OpenAIGPTLMHeadModel reads no KV cache: hf_static is refused by its runner and at the
    start (naming the model and what to set); the hf runner decodes as generate."""
    model = family_model("openai-gpt")
    with pytest.raises(PrunebenchError, match="hf_static backend cannot run an OpenAI GPT"):
        bench.HFStaticRunner(model, 4)
    folder = tmp_path / "gpt1"
    folder.mkdir()
    (folder / "config.json").write_text(FAMILIES["openai-gpt"]().to_json_string())
    config = {"models": {"gpt1": {"source": f"local:{folder}"}},
              "benchmark": {"backends": ["hf", "hf_static"]}}
    [problem] = static_cache_problems(config, tmp_path)
    assert "models.gpt1" in problem and "reads no KV cache" in problem
    assert static_cache_problems({**config, "benchmark": {"backends": ["hf"]}}, tmp_path) == []


def test_hf_rows_say_each_step_runs_the_whole_sequence_again():
    """OpenAIGPTLMHeadModel reads no KV cache: under the hf runner's generate its model runs
    the whole sequence so far at every step (GPT-2's the new token alone), so its hf rows
    carry that note (`floor_note`) and no bandwidth floor of a cached step, its compiled rows
    a floor, and the timed tables' caption names the models whose hf rows ran so."""
    from prunebench.benchmark.floors import add_floor
    from prunebench.benchmark.timing import UNCACHED_DECODE_NOTE
    from prunebench.report.tables import timing_caption

    def lengths_read(name: str) -> list[int]:
        model, read = family_model(name), []
        hook = model.transformer.register_forward_pre_hook(
            lambda _, args, kwargs: read.append((args or [kwargs["input_ids"]])[0].shape[1]),
            with_kwargs=True)
        bench.HFRunner(model, 4).generate(ids(1, 5), torch.ones(1, 5, dtype=torch.long))
        hook.remove()
        return read

    assert lengths_read("openai-gpt") == [5, 6, 7, 8] and lengths_read("gpt2") == [5, 1, 1, 1]
    config = FAMILIES["openai-gpt"]()
    rows = {backend: {"batch_size": 1, "decode_step_s": 0.01} for backend in ("hf", "compiled")}
    for backend, row in rows.items():
        add_floor(row, config, input_tokens=5, output_tokens=4, dtype=torch.float32,
                  bandwidth=1e9, backend=backend)
    assert rows["hf"]["floor_s"] is None and rows["hf"]["floor_note"] == UNCACHED_DECODE_NOTE
    assert rows["compiled"]["floor_s"] > 0 and "floor_note" not in rows["compiled"]
    gpt2_row = {"batch_size": 1, "decode_step_s": 0.01}
    add_floor(gpt2_row, FAMILIES["gpt2"](), input_tokens=5, output_tokens=4,
              dtype=torch.float32, bandwidth=1e9, backend="hf")
    assert gpt2_row["floor_s"] > 0 and "floor_note" not in gpt2_row
    speed = pd.DataFrame({"model": ["gpt1", "gpt1", "gpt2"], "backend": ["hf", "compiled", "hf"],
                          "floor_note": [UNCACHED_DECODE_NOTE, None, None]})
    assert "The hf rows of gpt1 ran without a KV cache" in timing_caption(speed)
    assert "KV cache" not in timing_caption(speed.drop(columns="floor_note"))


def test_the_hubs_base_model_names_and_old_buffers_load_as_transformers_loads_them(tmp_path):
    """openai-community/openai-gpt's checkpoint holds OpenAIGPTModel's names (tokens_embed,
    positions_embed, h.*; no LM head: tied), and checkpoints saved by transformers 4 hold the
    buffers it kept persistent then (each attention's causal mask attn.bias, position_ids),
    which OpenAIGPTLMHeadModel loads under `transformer.` and leaves: prunebench's loader
    does the same."""
    from safetensors.torch import load_file, save_file

    model = family_model("openai-gpt")
    save_model(model, None, tmp_path)
    weights = tmp_path / "model.safetensors"
    state = {k.removeprefix("transformer."): v for k, v in load_file(weights).items()}
    state.pop("lm_head.weight", None)
    for b in range(4):
        state[f"h.{b}.attn.bias"] = torch.tril(torch.ones(1, 1, 256, 256))
    state["position_ids"] = torch.arange(256)
    save_file(state, weights, metadata={"format": "pt"})
    assert {"tokens_embed.weight", "positions_embed.weight", "h.0.attn.c_attn.weight"} <= \
        state.keys() and not any(k.startswith(("transformer.", "lm_head")) for k in state)
    x = ids()
    assert torch.equal(logits(load_model(tmp_path, verify=False), x), logits(model, x))
    theirs = OpenAIGPTLMHeadModel.from_pretrained(tmp_path, dtype=torch.float32).eval()
    torch.testing.assert_close(logits(theirs, x), logits(model, x), rtol=0, atol=1e-5)
