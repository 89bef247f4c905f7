"""Llama 3.2 Vision's language model (mllama_text_model, MllamaForCausalLM), every method (the
width methods and BlockPruner pruning its self-attention blocks alone) and every backend (the
compiled decoder leaving the cross blocks out): LLaMA's self-attention blocks with, at the indices
cross_attention_layers lists, cross-attention blocks over image states (q_norm / k_norm, two
tanh gates) that MllamaTextModel skips on text (no image states given, none cached), and an
embedding of 8 rows past vocab_size for the image tokens; its multimodal checkpoint
(MllamaForConditionalGeneration) taken apart into it.
Checked against transformers' own classes (5.17 and 5.25): the counts against its meta model,
from config.json alone and by hand (LLaMA's model of the same shape, the 8 rows, each cross
block's norms and gates); prunebench's model computing transformers' logits, the cross blocks
skipped on text (a model without them computes the same) though they compute on images; a depth
prune of self-attention blocks equal to transformers' model of the kept blocks with
cross_attention_layers renumbered, on text and on images through a cache (the renumbered list,
the model's own copy of it and the cross blocks' cache indices each shown to matter),
reloaded and decoded by the hf / hf_static backends as transformers' generate; a cross block's
removal refused; the compiled decoder, leaving the cross blocks out, decoding as transformers'
generate (dense, depth-pruned, a cross block first) and the start letting it run; each width
method and BlockPruner pruning the self-attention blocks alone (exact counts, reloaded as
MllamaForCausalLM, decoded as generate, the cross blocks bitwise as they were and still
computing on images), head removal keeping the cross blocks' head_dim (a silent KV group's
removal changing no logit, on text or images), width surgery of a cross block refused; LoRA's
adapters on the self-attention blocks alone, trained and merged; the decode floor's reads and
cache; the multimodal checkpoint's language model computing on text
what the whole model computes.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import (LlamaConfig, LlamaForCausalLM, MllamaConfig,
                          MllamaForCausalLM, MllamaForConditionalGeneration, MllamaTextConfig)

from prunebench import PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.benchmark.floors import kv_cache_bytes, read_params
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               count_params, depth_kept_blocks,
                                               kv_bytes_of, kv_bytes_per_token, kv_head_count,
                                               layer_shapes, own_cache_static_problem)
from prunebench.methods import sizing, surgery
from prunebench.methods.depth import without_blocks
from prunebench.methods.registry import method_function
from prunebench.modeling import build_model, load_model, remove_blocks, save_model
from prunebench.projections import decoder
from test_families import (METHODS, TARGET, VOCAB, family_model, greedy_tokens_agree, ids,
                           logits, numel)
from test_qwen3_next import cache_bytes, check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")

CROSS = [1, 3]  # of five blocks: 0, 2 and 4 self-attention blocks


def small(**over) -> MllamaTextConfig:
    """Five blocks, 1 and 3 cross-attention blocks, 4 query heads of 8 on 2 KV heads."""
    values = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=5,
                  num_attention_heads=4, num_key_value_heads=2, cross_attention_layers=CROSS,
                  max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                  rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    return MllamaTextConfig(**{**values, **over})


def random_weights(model, seed: int = 0):
    """Every weight drawn (norms around 1, the gates' tanh far from 0: a block run shows)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif "gate" in name and p.numel() == 1:
                p.fill_(0.8)
            else:
                p.copy_(0.2 * torch.randn_like(p))
    return model.eval()


@pytest.fixture(scope="module")
def model():
    return random_weights(build_model(small(), device="cpu"))


def theirs_of(model, keep: list[int], cross: list[int]) -> MllamaForCausalLM:
    """Transformers' model of `model`'s blocks `keep` (its config's cross_attention_layers
    `cross`), given their weights under their new numbers."""
    config = small(num_hidden_layers=len(keep), cross_attention_layers=cross)
    state = {}
    for name, value in model.state_dict().items():
        if name.startswith("model.layers."):
            index, rest = name.removeprefix("model.layers.").split(".", 1)
            if int(index) not in keep:
                continue
            name = f"model.layers.{keep.index(int(index))}.{rest}"
        state[name] = value
    theirs = MllamaForCausalLM(config).eval()
    theirs.load_state_dict(state)
    return theirs


def with_images(model, x, states) -> torch.Tensor:
    """The logits of a prompt attending to image `states`, then of one more token reading the
    cross blocks' keys and values from the cache (under their cache indices)."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        first = model(input_ids=x, cross_attention_states=states, past_key_values=cache,
                      use_cache=True).logits
        second = model(input_ids=x[:, -1:], past_key_values=cache, use_cache=True).logits
    return torch.cat([first, second], dim=1)


@pytest.mark.parametrize("changes", [{}, {"cross_attention_layers": []},
                                     {"cross_attention_layers": [0, 4], "vocab_size": 96}])
def test_counts_against_transformers_meta_model(changes):
    """count_params equals MllamaForCausalLM's meta model, from the config and from
    config.json's values alone; by hand, LLaMA's model of the same shape (untied) plus the 8
    image rows of the embedding and each cross block's q_norm, k_norm and two gates."""
    config = small(**changes)
    with torch.device("meta"):
        meta = MllamaForCausalLM(config)
        llama = LlamaForCausalLM(LlamaConfig(**{k: getattr(config, k) for k in (
            "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads")}, tie_word_embeddings=False))
    assert meta.model.embed_tokens.weight.shape[0] == config.vocab_size + 8
    cross = len(config.cross_attention_layers)
    by_hand = numel(llama) + 8 * config.hidden_size + cross * (2 * 8 + 2)
    values = {"model_type": "mllama_text_model", **config.to_dict()}
    assert count_params(config) == numel(meta) == by_hand
    assert count_params(config_from_dict(values)) == numel(meta)


def test_the_published_shape_counts_as_transformers_builds_it():
    """MllamaTextConfig's defaults, Llama 3.2 11B Vision's language model (40 blocks, 8 of
    them cross-attention blocks): counted as its meta model; CONFIG_DEFAULTS the same shape."""
    config = MllamaTextConfig()
    with torch.device("meta"):
        meta = MllamaForCausalLM(config)
    assert count_params(config) == numel(meta)
    assert count_params(config_from_dict({"model_type": "mllama_text_model"})) == numel(meta)
    assert depth_kept_blocks(config) == [0, 3, 8, 13, 18, 23, 28, 33, 38]


def test_text_logits_are_transformers_and_skip_the_cross_blocks(model):
    """prunebench's model computes MllamaForCausalLM's logits; on text the cross blocks are
    skipped (transformers' model without them computes the same), though on images they
    compute (the logits differ from the text's)."""
    x = ids()
    theirs = theirs_of(model, list(range(5)), CROSS)
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)
    without = theirs_of(model, [0, 2, 4], [])
    torch.testing.assert_close(logits(model, x), logits(without, x), rtol=0, atol=1e-5)
    states = torch.randn(x.shape[0], 6, 32, generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(with_images(model, x, states)[:, :-1], logits(model, x),
                              atol=1e-2)


def test_depth_prune_is_transformers_model_of_the_kept_blocks(model, tmp_path):
    """Blocks 2 and 4 removed: transformers' model of blocks 0, 1 and 3 with
    cross_attention_layers [1, 2], on text and on images through a cache; the renumbered list,
    the model's own copy and the cross blocks' cache indices each shown to matter; reloaded,
    decoded by the hf and hf_static backends as transformers' generate."""
    pruned = remove_blocks(copy.deepcopy(model), [2, 4])
    assert pruned.config.cross_attention_layers == [1, 2]
    assert decoder(pruned).cross_attention_layers == [1, 2]
    theirs = theirs_of(model, [0, 1, 3], [1, 2])
    x = ids()
    torch.testing.assert_close(logits(pruned, x), logits(theirs, x), rtol=0, atol=1e-5)
    states = torch.randn(x.shape[0], 6, 32, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(with_images(pruned, x, states), with_images(theirs, x, states),
                               rtol=0, atol=1e-5)
    assert count_params(pruned.config) == numel(pruned) == numel(theirs)
    # the list not renumbered: transformers builds other blocks, the weights do not fit
    with pytest.raises(RuntimeError):
        theirs_of(model, [0, 1, 3], CROSS)
    # the model's own copy not renumbered: block 2, a cross block, run on text without states
    stale = copy.deepcopy(pruned)
    decoder(stale).cross_attention_layers = CROSS
    with pytest.raises((AttributeError, ValueError)):
        logits(stale, x)
    # a cross block's cache index not renumbered: its image keys cached under another's
    stale = copy.deepcopy(pruned)
    decoder(stale).layers[2].cross_attn.layer_idx = 3
    try:
        differs = not torch.allclose(with_images(stale, x, states),
                                     with_images(theirs, x, states), atol=1e-4)
    except (IndexError, KeyError):  # (or the cache has no entry of that index)
        differs = True
    assert differs
    check_a_depth_pruned_reload_decodes_as_transformers(copy.deepcopy(model), [2, 4],
                                                        MllamaForCausalLM, tmp_path / "depth")


def test_the_cross_blocks_and_the_first_block_are_kept(model):
    """A cross block's removal, or the first block's, refused before anything changes; the
    depth methods' candidates leave them out. Why the first: transformers' static generate of
    a model whose first block is a cross block decodes otherwise than its dynamic one (the
    static cache's length read from that block's empty entry), which hf_static refuses."""
    pruned = copy.deepcopy(model)
    for drop in ([1, 2], [0]):
        with pytest.raises(PrunebenchError, match="block.*of this Llama 3.2 Vision model"):
            remove_blocks(pruned, drop)
        assert len(decoder(pruned).layers) == 5
        with pytest.raises(PrunebenchError, match="cross-attention blocks and its first"):
            with without_blocks(pruned, set(drop)):  # (as the depth criteria score)
                pass
    assert depth_kept_blocks(model.config) == [0, *CROSS]
    first = theirs_of(model, [1, 2, 3, 4], [0, 2])
    assert own_cache_static_problem(first.config) and not own_cache_static_problem(model.config)
    prompt = ids(2, 7, seed=5)
    runs = [first.generate(input_ids=prompt, max_new_tokens=8, do_sample=False, pad_token_id=0,
                           **kind) for kind in ({}, {"cache_implementation": "static"})]
    assert not torch.equal(*runs)


@pytest.mark.parametrize("variant", ["dense", "depth", "cross_first"])
def test_the_compiled_decoder_leaves_the_cross_blocks_out_and_decodes_as_generate(model,
                                                                                   variant):
    """The compiled decoder runs the self-attention blocks alone (a fused block and a cache
    each, none for a cross block, whose weights it leaves as they are): its prefill logits are
    transformers' and its greedy tokens generate's, of the dense model, of a depth-pruned one
    (blocks 2 and 4 out: cross blocks 1 and 2 left) and of one whose first block is a cross
    block (transformers' model of blocks 1..4: hf_static refuses it, the compiled decoder has
    a cache of its own)."""
    run = {"dense": lambda: copy.deepcopy(model),
           "depth": lambda: remove_blocks(copy.deepcopy(model), [2, 4]),
           "cross_first": lambda: theirs_of(model, [1, 2, 3, 4], [0, 2])}[variant]()
    cross = [decoder(run).layers[i] for i in run.config.cross_attention_layers]
    before = [{k: v.clone() for k, v in layer.state_dict().items()} for layer in cross]
    built = StaticDecoder(run, 3, 16, mode="eager")
    # a block of each self-attention block's weights (its o_proj's, no copy), none of a cross
    # block's
    assert [block.o_w.data_ptr() for block in built.blocks] == [
        layer.self_attn.o_proj.weight.data_ptr() for layer in decoder(run).layers
        if hasattr(layer, "self_attn")]
    assert all(block.k_cache is not None for block in built.blocks)
    tokens, certain = greedy_tokens_agree(run)
    assert sum(certain) > 0 and len(set(tokens[:, 6:].flatten().tolist())) > 3  # a real check
    for layer, weights in zip(cross, before):
        assert all(torch.equal(v, weights[k]) for k, v in layer.state_dict().items())


def test_the_start_lets_the_compiled_backend_run_it(tmp_path):
    """A Llama 3.2 Vision model whose config is known at the start is not told off the compiled
    backend (DiffLlama, whose blocks hold pieces of their own, still is)."""
    from prunebench.plan.checks import moe_problems
    from test_diffllama_bitnet import config as own_block_config

    small().save_pretrained(tmp_path / "mllama")
    own_block_config("diffllama").save_pretrained(tmp_path / "diffllama")
    runs = {"models": {name: {"source": f"local:{tmp_path / name}", "variants": ["dense"]}
                       for name in ("mllama", "diffllama")},
            "benchmark": {"backends": ["hf", "compiled"]}}
    problems = moe_problems(runs, tmp_path / "nowhere")
    assert len(problems) == 1 and problems[0].startswith("models.diffllama (diffllama)")


def cross_state(model) -> list[dict[str, torch.Tensor]]:
    """Each cross block's weights, copied."""
    return [{k: v.clone() for k, v in decoder(model).layers[i].state_dict().items()}
            for i in model.config.cross_attention_layers]


@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp", "blockpruner"])
def test_width_methods_and_blockpruner_prune_the_self_attention_blocks_alone(method, tmp_path):
    """Each width method and BlockPruner on the family tests' model (block 2 a cross block):
    the size is count_params' of the pruned config, exactly, and the reloaded
    MllamaForCausalLM's; a self-attention block lost channels or a sublayer; the cross block is
    bitwise what it was and still computes on images (the pruned model's logits there differ
    from its text logits); the reloaded model decodes as transformers' generate (the compiled
    decoder and hf_static too)."""
    model = family_model("mllama_text_model")
    dense, before = numel(model), cross_state(model)
    method_function(method)(model, ids(8, 24, seed=3), int(TARGET * dense), **METHODS[method])
    assert numel(model) == count_params(model.config) < dense
    kept = [decoder(model).layers[i] for i in range(len(decoder(model).layers))
            if i not in model.config.cross_attention_layers]
    assert len(kept) < 3 or any(projections_shrank(layer) for layer in kept)
    after = cross_state(model)
    assert len(after) == 1 and all(torch.equal(v, before[0][k]) for k, v in after[0].items())
    save_model(model, None, tmp_path / "pruned")
    reloaded = load_model(tmp_path / "pruned")
    assert type(reloaded) is MllamaForCausalLM
    assert numel(reloaded) == numel(model) == count_params(reloaded.config)
    x = ids()
    assert torch.equal(logits(reloaded, x), logits(model, x))
    states = torch.randn(x.shape[0], 6, 64, generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(with_images(reloaded, x, states)[:, :-1], logits(reloaded, x),
                              atol=1e-3)
    greedy_tokens_agree(reloaded)


def projections_shrank(layer) -> bool:
    """Whether a self-attention block lost MLP channels or heads (of 128 and 4 x 16)."""
    return (layer.mlp.down_proj.in_features < 128
            or layer.self_attn.o_proj.in_features < 64)


def test_head_removal_keeps_the_cross_blocks_head_dim(model, tmp_path):
    """Width pruning keeps the config's head count (each block's heads in layer_shapes), so a
    cross block keeps its head_dim (hidden / heads: MllamaTextConfig reads no head_dim key)
    and its weights, reloaded too; KV group 0 of block 0 silenced (its o_proj columns zero),
    then removed, changes no logit on text or on images; a cross block's surgery refused,
    nothing cut."""
    pruned = copy.deepcopy(model)
    with torch.no_grad():
        decoder(pruned).layers[0].self_attn.o_proj.weight[:, :2 * 8] = 0  # heads 0, 1 (group 0)
    x = ids()
    states = torch.randn(x.shape[0], 6, 32, generator=torch.Generator().manual_seed(2))
    text, images = logits(pruned, x), with_images(pruned, x, states)
    before = cross_state(pruned)
    surgery.remove_kv_groups(pruned, 0, [0])
    save_model(pruned, None, tmp_path / "heads")
    reloaded = load_model(tmp_path / "heads")
    assert reloaded.config.layer_shapes[0]["num_attention_heads"] == 2
    for run in (pruned, reloaded):
        assert numel(run) == count_params(run.config) == numel(model) - 2 * (2 * 8 * 32 + 8 * 32)
        assert [decoder(run).layers[i].cross_attn.head_dim for i in CROSS] == [8, 8]
        assert all(torch.equal(v, b[k]) for a, b in zip(cross_state(run), before)
                   for k, v in a.items())
        torch.testing.assert_close(logits(run, x), text, rtol=0, atol=1e-5)
        torch.testing.assert_close(with_images(run, x, states), images, rtol=0, atol=1e-5)
    for cut in (lambda: surgery.remove_channels(pruned, 1, [0]),
                lambda: surgery.remove_kv_groups(pruned, 3, [0])):
        with pytest.raises(PrunebenchError, match="cross-attention block.*keeps it whole"):
            cut()
    assert numel(pruned) == count_params(pruned.config)


def test_lora_adapts_the_self_attention_blocks_alone(model):
    """LoRA's seven targets adapt the blocks a text forward runs (param_count.text_blocks), no
    cross block's projections (skipped on text: their adapters got no gradient and merged as
    nothing): every adapter trains (a gradient on each lora_B) and merges into a plain
    MllamaForCausalLM computing the adapted model's logits; a depth-pruned model's cross
    blocks, renumbered, get none either."""
    from prunebench.lora import TARGETS, lora_target_names
    from test_deepseek import check_lora_trains_and_merges

    parts = [f"self_attn.{p}" for p in ("q_proj", "k_proj", "v_proj", "o_proj")] + [
        f"mlp.{p}" for p in ("gate_proj", "up_proj", "down_proj")]
    check_lora_trains_and_merges(model, list(TARGETS),
                                 [f"model.layers.{b}.{p}" for b in (0, 2, 4) for p in parts])
    pruned = remove_blocks(copy.deepcopy(model), [2])
    assert pruned.config.cross_attention_layers == [1, 2]
    assert lora_target_names(pruned, list(TARGETS))[0] == [
        f"model.layers.{b}.{p}" for b in (0, 3) for p in parts]


def test_a_block_range_of_cross_blocks_alone_is_refused():
    """LLM-Pruner's blocks 1..1 (a cross block alone) leave it nothing to prune: refused from
    the config, naming the self-attention blocks; FLAP's compensation biases go to the
    self-attention blocks alone (the cross blocks' shapes as they are)."""
    config = small()
    with pytest.raises(PrunebenchError, match=r"all cross-attention blocks.*\[0, 2, 4\]"):
        sizing.plan_llm_pruner(config, int(0.9 * count_params(config)), block_start=1,
                               block_end=2)
    shapes = sizing.compensated_shapes(config, biases=True)
    assert [s["down_proj_bias"] for s in shapes] == [True, False, True, False, True]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_decode_floor_reads_and_caches_the_self_attention_blocks(model, dtype):
    """kv_cache_bytes equals transformers' cache after a text forward (the cross blocks' entries
    empty); read_params is every weight but the embedding and the cross blocks."""
    from transformers import DynamicCache

    x = ids(2, 9)
    run = copy.deepcopy(model).to(dtype)
    cache = DynamicCache(config=run.config)
    with torch.no_grad():
        run(input_ids=x, past_key_values=cache, use_cache=True)
    assert kv_cache_bytes(model.config, 2, 9, dtype) == cache_bytes(cache) > 0
    # the plan's figure, the bytes a token adds (dense_kv_bytes, a depth plan's kept KV heads):
    # the self-attention blocks' alone, as the cache grows
    size = torch.tensor([], dtype=dtype).element_size()
    shapes = layer_shapes(model.config)
    assert 2 * 9 * kv_bytes_of(model.config, shapes, size) == cache_bytes(cache)
    assert 2 * 9 * kv_bytes_per_token(model.config, kv_head_count(shapes), size) == cache_bytes(
        cache)
    cross = sum(numel(decoder(model).layers[i]) for i in CROSS)
    embedding = decoder(model).embed_tokens.weight.numel()
    assert read_params(model.config) == numel(model) - embedding - cross


def tiny_vision() -> dict:
    return dict(image_size=30, patch_size=2, hidden_size=16, intermediate_layers_indices=[0],
                vision_output_dim=32, num_hidden_layers=2, num_global_layers=1,
                attention_heads=4, intermediate_size=24, max_num_tiles=4)


@pytest.mark.parametrize("layout", ["save_pretrained", "modules"])
def test_the_multimodal_checkpoint_keeps_its_language_model(tmp_path, layout):
    """A MllamaForConditionalGeneration saved by transformers (or under its modules' names):
    taken apart, the kept MllamaForCausalLM holds the language model's parameters and LM head,
    counted from its config.json alone, and computes on text what the whole model computes;
    a self block's removal runs on it."""
    from safetensors.torch import save_file

    from prunebench.checkpoint import text_part

    text = small().to_dict()
    whole = MllamaForConditionalGeneration(MllamaConfig(text_config=text,
                                                        vision_config=tiny_vision()))
    random_weights(whole)
    folder = tmp_path / layout
    whole.save_pretrained(folder)
    if layout == "modules":
        for file in folder.glob("*.safetensors"):
            file.unlink()
        (folder / "model.safetensors.index.json").unlink(missing_ok=True)
        save_file({k: v.contiguous() for k, v in whole.state_dict().items()},
                  str(folder / "model.safetensors"), metadata={"format": "pt"})
    assert text_part.take_text_part(folder) is True
    kept = load_model(folder)
    assert type(kept) is MllamaForCausalLM
    language = numel(whole.model.language_model) + numel(whole.lm_head)
    assert numel(kept) == count_params(config_from_dict(checked_config_json(folder))) == language
    x = ids()
    with torch.no_grad():
        expected = whole(input_ids=x).logits
    torch.testing.assert_close(logits(kept, x), expected, rtol=0, atol=1e-5)
    record = json.loads((folder / text_part.RECORD).read_text())
    assert record["taken_from"] == "MllamaForConditionalGeneration"
    remove_blocks(kept, [2])
    assert numel(kept) == count_params(kept.config)
