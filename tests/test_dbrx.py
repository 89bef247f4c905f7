"""DBRX (dbrx, DbrxForCausalLM; dbrx-base, dbrx-instruct): the pieces of its own, as a mixture
of experts (depth pruning, the hf and hf_static backends).

Its config nests the keys its modules read: attn_config's kv_n_heads, clip_qkv and rope_theta,
ffn_config's ffn_hidden_size, moe_num_experts and moe_top_k (param_count.CONFIG_KEY_NAMES' dotted
names, read from config.json and from DbrxConfig's sub-configs alike). Checked here: exact
counts against transformers' meta models, by hand, from config.json alone (a stray top-level
num_key_value_heads read as DbrxAttention ignores it); a checkpoint transformers saved, imported
and loaded by prunebench computing transformers' logits, its q/k/v clamp shown to bind; depth
pruning equal to transformers' model of the kept blocks, each kept attention's cache index
renumbered, reloaded by prunebench and by transformers with the hf backends decoding as
generate; the experts' fused w1 / v1 / w2 scored by Mag+ and Taylor+; its dropout and router
jitter off in training-mode passes; the refusals of a config.json transformers would build
otherwise than its weights need (a sub-config or a shape key left out, attn_config's rotary
base, which transformers 5 never reads, a whole-number moe_normalize_expert_weights, a tied
head), of the published config.json read as it is, which a download or an import writes as
transformers reads it (the top-level rope_theta, the float router norm) into a model rotating
at 500000, and of what reshapes its experts; the known shape dbrx-instruct by hand.

tests/test_families.py runs the shared per-family tests on its tiny config (the depth methods,
save and reload, the hf backends, evaluation); tests/test_moe.py the mixture-of-experts ones."""

from __future__ import annotations

import copy
import json
import re

import pytest
import torch
from transformers import DbrxConfig, DbrxForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (DBRX_SHAPE_KEYS, block_param_count,
                                               checked_config_json, checkpoint_config,
                                               count_params, is_scored_weight, layer_shapes)
from prunebench.modeling import base_dropout_off, build_model, load_config, load_model
from test_families import (FAMILIES, _write_config, family_model, ids, in_allocated_memory,
                           logits, numel)
from test_families import tokenizer  # noqa: F401 - a fixture
from test_glm4_moe import check_refused_as_a_mixture_of_experts
from test_helium_vaultgemma_granitemoeshared import SHAPE, check_counts, meta_count
from test_opt import check_depth_prune_is_transformers_model
from test_stablelm import dropout_turned_off

pytestmark = pytest.mark.usefixtures("one_thread")

ATTENTION = {"kv_n_heads": 2, "clip_qkv": 0.5, "rope_theta": 10000.0}
EXPERTS = {"ffn_hidden_size": 24, "moe_num_experts": 4, "moe_top_k": 2}


def tiny_config_json() -> dict:
    """The family tests' tiny DBRX as save_pretrained writes its config.json (to_dict's would
    hold PreTrainedConfig's keys in ffn_config, which transformers 5.17 refuses to read)."""
    return json.loads(FAMILIES["dbrx"]().to_json_string())


# --------------------------------------------------------------------------- counts

# SHAPE's hidden size under DbrxConfig's own name: given as hidden_size alone, DbrxConfig
# sizes its experts by the default d_model (its __post_init__ copies d_model into ffn_config
# before the attribute_map sets it), which a config.json, giving d_model, never meets.
D_MODEL = {"d_model": SHAPE["hidden_size"]}


@pytest.mark.parametrize("values", [
    # DbrxConfig's sub-configs' defaults (none for rope_theta and clip_qkv, which its
    # attention needs): 1 KV head (SHAPE's 2 is a stray top-level key DbrxAttention does not
    # read), 4 experts of 3584, top 1
    {"attn_config": {"rope_theta": 10000.0, "clip_qkv": 8.0}},
    {"attn_config": ATTENTION, "ffn_config": EXPERTS},
    {"attn_config": {**ATTENTION, "kv_n_heads": 6},
     "ffn_config": {**EXPERTS, "moe_num_experts": 5, "moe_top_k": 3}}])
def test_dbrx_counts_equal_transformers_parameters(values):
    check_counts("dbrx", {**D_MODEL, **values})


def test_dbrx_block_counted_by_hand():
    """One block: Wqkv of 6 query heads of 8 and 2 KV heads ([all q; all k; all v]), out_proj
    hidden x hidden, no biases; norm_1 and norm_2, LayerNorms of a weight alone; a router over
    4 experts, and w1 / v1 / w2, each [4 x 24, 48]."""
    config = DbrxConfig(d_model=48, n_heads=6, n_layers=3, vocab_size=97,
                        attn_config=ATTENTION, ffn_config=EXPERTS)
    d, q, kv = 48, 6 * 8, 2 * 8
    by_hand = d * (q + 2 * kv) + q * d + 2 * d + 4 * d + 3 * 4 * 24 * d
    assert [block_param_count(config, s) for s in layer_shapes(config)] == [by_hand] * 3
    assert by_hand == 20_256
    assert count_params(config) == 2 * 97 * d + d + 3 * by_hand == meta_count("dbrx", config)


# --------------------------------------------------------------------------- import and load

def test_a_checkpoint_transformers_saved_imports_and_computes_transformers_logits(tmp_path,
                                                                                 tokenizer):  # noqa: F811
    """A tiny DBRX made by transformers' own class, saved by it (the experts fused, as DBRX
    checkpoints hold them: nothing to convert), imported and loaded by prunebench: the same
    tensors and logits at float32, its count transformers', and transformers' own load of the
    imported folder the same logits. Its q/k/v clamp binds (the logits
    move without it), so the equality covers it."""
    model = check_a_transformers_checkpoint_imports(DbrxForCausalLM, FAMILIES["dbrx"](),
                                                    tokenizer, tmp_path)
    x = ids()
    unclamped = copy.deepcopy(model)
    for block in unclamped.transformer.blocks:
        block.norm_attn_norm.attn.clip_qkv = 1e9  # (None: transformers' clamp of no bound fails)
    assert not torch.allclose(logits(unclamped, x), logits(model, x))


def check_a_transformers_checkpoint_imports(cls, config, tokenizer, tmp_path):  # noqa: F811
    """A model of `config` made by transformers' class `cls` and saved by it, imported and
    loaded by prunebench: the same tensors and float32 logits, its count transformers', and
    transformers' own load of the imported folder the same logits (also HyperCLOVA X's and
    MiniCPM3's: tests/test_hyperclovax_minicpm3.py). Returns transformers' model."""
    torch.manual_seed(0)
    model = cls(config).eval()
    model.save_pretrained(tmp_path / "hub")
    tokenizer.save_pretrained(tmp_path / "hub")
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    ours = load_model(out)
    x = ids()
    assert set(ours.state_dict()) == set(model.state_dict())
    assert torch.equal(logits(ours, x), logits(model, x))
    assert numel(ours) == count_params(ours.config) == numel(model)
    # the imported folder is a plain checkpoint of its family to transformers as well
    again = in_allocated_memory(cls.from_pretrained(out, dtype=torch.float32))
    assert torch.equal(logits(again.eval(), x), logits(model, x))
    return model


def published_style(raw: dict) -> dict:
    """A DBRX config.json as Databricks publishes dbrx-instruct's: the rotary base in
    attn_config alone (no rope_theta or rope_parameters at the top level), the router's norm
    the integer 1, ffn_config's uniform_expert_assignment (read by no transformers class)."""
    published = {k: v for k, v in raw.items() if k not in ("rope_parameters", "rope_theta")}
    published["ffn_config"] = {**raw["ffn_config"], "moe_normalize_expert_weights": 1,
                               "uniform_expert_assignment": False}
    return published


def test_a_published_style_checkpoint_is_written_as_transformers_reads_it_on_import(
        tmp_path, tokenizer, monkeypatch):  # noqa: F811
    """A tiny DBRX rotating at attn_config's base 500000, saved with a config.json of the
    published kind: read as it is, refused, naming the import; imported (the folder only read)
    and downloaded, its config.json is written with the top-level rope_theta and the float
    norm, every other value kept, and it loads into the model that rotates at 500000 (its
    logits transformers' at float32, which base 10000 would not give)."""
    from prunebench import hub
    from prunebench.checkpoint.integrity import sha256_file
    from prunebench.modeling import MANIFEST
    from test_text_part import fake_fetch

    raw = tiny_config_json()
    raw["attn_config"] = {**raw["attn_config"], "rope_theta": 500000.0}
    raw["rope_parameters"] = {**raw["rope_parameters"], "rope_theta": 500000.0}
    torch.manual_seed(0)
    model = DbrxForCausalLM(DbrxConfig.from_dict(raw)).eval()
    model.save_pretrained(tmp_path / "hub")
    tokenizer.save_pretrained(tmp_path / "hub")
    published = published_style(json.loads((tmp_path / "hub" / "config.json").read_text()))
    (tmp_path / "hub" / "config.json").write_text(json.dumps(published))
    original = sha256_file(tmp_path / "hub" / "config.json")
    with pytest.raises(PrunebenchError, match="attn_config.rope_theta=500000.0 .*a download "
                                              "or an import writes it so"):
        checked_config_json(tmp_path / "hub")
    x = ids()
    expected = logits(model, x)
    at_10000 = DbrxForCausalLM(DbrxConfig.from_dict(
        {**raw, "rope_parameters": {**raw["rope_parameters"], "rope_theta": 10000.0}})).eval()
    at_10000.load_state_dict(model.state_dict())
    assert not torch.allclose(logits(at_10000, x), expected, atol=1e-4)  # the base matters

    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    fake_fetch(monkeypatch, tmp_path / "hub")
    downloaded = hub.download("databricks/dbrx-instruct", "abc", tmp_path / "download")
    assert sha256_file(tmp_path / "hub" / "config.json") == original  # only read
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["imported_sha256"]["config.json"] == original  # the folder's, as it is
    for folder in (out, downloaded):
        written = json.loads((folder / "config.json").read_text())
        assert written["rope_theta"] == 500000.0
        assert written["ffn_config"]["moe_normalize_expert_weights"] == 1.0
        assert isinstance(written["ffn_config"]["moe_normalize_expert_weights"], float)
        assert {k: v for k, v in written.items() if k not in ("rope_theta", "ffn_config")} == {
            k: v for k, v in published.items() if k != "ffn_config"}
        assert {k: v for k, v in written["ffn_config"].items()
                if k != "moe_normalize_expert_weights"} == {
            k: v for k, v in published["ffn_config"].items()
            if k != "moe_normalize_expert_weights"}
        ours = load_model(folder)
        assert ours.config.rope_parameters["rope_theta"] == 500000.0
        assert torch.equal(ours.transformer.rotary_emb.inv_freq,
                           model.transformer.rotary_emb.inv_freq)
        assert torch.equal(logits(ours, x), expected)


def test_a_command_given_a_published_style_folder_imports_it_as_written(tmp_path, tokenizer):  # noqa: F811
    """`prunebench bench ./dbrx-instruct ...`: a command imports the folder into its cache,
    its config.json written as transformers reads it (the folder only read), where it read it
    as it is and checked_config_json refused it."""
    from prunebench.commands.model_source import resolve_model
    from test_text_part import files

    raw = tiny_config_json()
    raw["attn_config"] = {**raw["attn_config"], "rope_theta": 500000.0}
    raw["rope_parameters"] = {**raw["rope_parameters"], "rope_theta": 500000.0}
    torch.manual_seed(0)
    model = DbrxForCausalLM(DbrxConfig.from_dict(raw)).eval()
    folder = tmp_path / "dbrx-instruct"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    published = published_style(json.loads((folder / "config.json").read_text()))
    (folder / "config.json").write_text(json.dumps(published))
    before = files(folder)
    checkpoint = resolve_model(str(folder), tmp_path / "cache")
    assert checkpoint.path.parent == tmp_path / "cache"
    assert json.loads((checkpoint.path / "config.json").read_text())["rope_theta"] == 500000.0
    assert torch.equal(logits(load_model(checkpoint.path), ids()), logits(model, ids()))
    assert files(folder) == before


# --------------------------------------------------------------------------- depth pruning

@pytest.mark.parametrize("drop", [[0], [1, 2], [3]])
def test_depth_pruning_computes_as_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """Blocks removed: the model left computes, counts and reloads (by prunebench and by
    DbrxForCausalLM) as transformers' model of the kept blocks, and each kept attention's
    cache index (under its block's norm_attn_norm) is its new place, so the hf and hf_static
    backends decode as generate."""
    model = family_model("dbrx")
    check_depth_prune_is_transformers_model(
        model, drop, "transformer.blocks.", DbrxForCausalLM,
        lambda n: DbrxConfig.from_dict({**tiny_config_json(), "n_layers": n}), tmp_path)
    kept = len(model.transformer.blocks)
    assert model.config.n_layers == kept == 4 - len(drop)
    assert [b.norm_attn_norm.attn.layer_idx for b in model.transformer.blocks] == list(
        range(kept)) == [b.norm_attn_norm.layer_idx for b in model.transformer.blocks]


def test_mag_and_taylor_score_the_experts_fused_weights():
    """Every parameter of a DBRX block is a weight the Mag+ and Taylor+ criteria score: the
    experts' w1 / v1 / w2, fused over the experts and named without `weight`, too."""
    block = family_model("dbrx").transformer.blocks[0]
    names = [name for name, _ in block.named_parameters()]
    assert {"ffn.experts.mlp.w1", "ffn.experts.mlp.v1", "ffn.experts.mlp.w2"} <= set(names)
    assert all(is_scored_weight(name) for name in names)


def test_its_dropout_and_router_jitter_are_off_in_training_mode_passes():
    """resid_pdrop (DbrxNormAttentionNorm's and DbrxBlock's), attn_pdrop (DbrxAttention's
    attention_dropout) and moe_jitter_eps (DbrxRouter's noise on its input) are off inside
    base_dropout_off, and restored after."""
    model = family_model("dbrx")
    model.config.resid_pdrop = 0.3
    for block in model.transformer.blocks:
        block.resid_pdrop = block.norm_attn_norm.resid_pdrop = 0.3
        block.norm_attn_norm.attn.attention_dropout = 0.3
        block.ffn.router.moe_jitter_eps = 0.3
    with dropout_turned_off(model, family_model("dbrx")):
        pass
    block = model.transformer.blocks[0]
    assert (block.resid_pdrop, block.norm_attn_norm.attn.attention_dropout,
            block.ffn.router.moe_jitter_eps) == (0.3, 0.3, 0.3)
    with base_dropout_off(model):
        assert block.ffn.router.moe_jitter_eps == 0.0


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("sub, key", [(sub, key) for sub, keys in DBRX_SHAPE_KEYS.items()
                                      for key in keys])
def test_a_config_json_without_a_shape_key_of_its_sub_configs_is_refused(sub, key, tmp_path):
    """DbrxConfig takes its defaults for a shape key left out (1 KV head, 4 experts of 3584,
    top 1: no published DBRX), DbrxAttention cannot be built without rope_theta, nor run
    without clip_qkv (its clamp of no bound): every reader refuses such a config.json, naming
    the key."""
    raw = tiny_config_json()
    del raw[sub][key]
    folder = _write_config(tmp_path / "m", raw)
    for read in (checked_config_json, checkpoint_config, load_config):
        with pytest.raises(PrunebenchError, match=f"gives no {key} in its {sub}: DbrxConfig "
                                                  "would take its defaults"):
            read(folder)
    if key == "rope_theta":  # transformers' own failure, as it builds the model
        with pytest.raises(AttributeError, match="rope_theta"):
            DbrxForCausalLM(DbrxConfig.from_dict(raw))
    if key == "clip_qkv":  # and as it runs it
        with pytest.raises(RuntimeError, match="clamp"):
            DbrxForCausalLM(DbrxConfig.from_dict(raw))(input_ids=ids())


@pytest.mark.parametrize("value", [None, [], "attn"])
@pytest.mark.parametrize("sub", sorted(DBRX_SHAPE_KEYS))
def test_a_config_json_whose_sub_config_is_no_object_is_refused(sub, value, tmp_path):
    folder = _write_config(tmp_path / "m", {**tiny_config_json(), sub: value})
    with pytest.raises(PrunebenchError, match=re.escape(f"gives {sub}={value!r}, not an "
                                                        "object of settings")):
        checked_config_json(folder)


def test_attn_configs_rotary_base_is_refused_where_transformers_rotates_by_another(tmp_path):
    """transformers 5 keeps attn_config's rope_theta and rotates by rope_parameters' (10000
    where a config gives none): a config.json with 500000 in attn_config alone would run every
    block at another rate. Refused when read and when built, with the key to add; with a
    top-level rope_theta, which transformers reads into rope_parameters, it is read."""
    raw = {**tiny_config_json(), "attn_config": {**ATTENTION, "rope_theta": 500000}}
    del raw["rope_parameters"]
    assert DbrxConfig.from_dict(raw).rope_parameters["rope_theta"] == 10000.0  # transformers'
    folder = _write_config(tmp_path / "m", raw)
    with pytest.raises(PrunebenchError, match='rotates by rope_parameters. base, 10000.0 here.*'
                                              'Add "rope_theta": 500000 at the top level'):
        checked_config_json(folder)
    with pytest.raises(FamilyUnsupported, match="attn_config.rope_theta=500000"):
        build_model(DbrxConfig.from_dict(raw))
    raw["rope_theta"] = 500000
    assert DbrxConfig.from_dict(raw).rope_parameters["rope_theta"] == 500000
    assert count_params(checkpoint_config(_write_config(tmp_path / "fixed", raw))) == count_params(
        DbrxConfig.from_dict(raw))


def test_a_whole_number_router_norm_and_a_tied_head_are_refused(tmp_path):
    """The published `moe_normalize_expert_weights: 1`, which DbrxFFNConfig's strict check
    refuses (in 5.17 and 5.25), and a tied LM head, which DbrxConfig refuses: said when the
    config.json is read, with what to write."""
    raw = tiny_config_json()
    raw["ffn_config"]["moe_normalize_expert_weights"] = 1
    with pytest.raises(Exception, match="moe_normalize_expert_weights"):  # transformers' own
        DbrxConfig.from_dict(raw)
    with pytest.raises(PrunebenchError, match="moe_normalize_expert_weights=1, a whole number.*"
                                              "write 1.0 in config.json"):
        checked_config_json(_write_config(tmp_path / "int", raw))
    tied = {**tiny_config_json(), "tie_word_embeddings": True}
    with pytest.raises(PrunebenchError, match="tie_word_embeddings true, which DbrxConfig "
                                              "refuses"):
        checked_config_json(_write_config(tmp_path / "tied", tied))


@pytest.mark.parametrize("method", ["LLM-Pruner", "FLAP", "the compiled backend"])
def test_refuses_what_reshapes_its_experts(method):
    check_refused_as_a_mixture_of_experts(FAMILIES["dbrx"](), method, "DbrxForCausalLM")


# --------------------------------------------------------------------------- known shape

# dbrx-instruct's config.json as published (a public loader's test quotes it whole from
# mlx-community's 4-bit copy, less its quantization entry; PreTrainedConfig's leftovers in the
# sub-configs kept).
PUBLISHED = {
    "architectures": ["DbrxForCausalLM"],
    "attn_config": {"return_dict": True, "output_hidden_states": False, "torch_dtype": None,
                    "tie_word_embeddings": True, "max_length": 20, "temperature": 1.0,
                    "top_k": 50, "top_p": 1.0, "id2label": {"0": "LABEL_0", "1": "LABEL_1"},
                    "model_type": "", "attn_pdrop": 0, "clip_qkv": 8, "kv_n_heads": 8,
                    "rope_theta": 500000},
    "d_model": 6144, "emb_pdrop": 0.0,
    "ffn_config": {"return_dict": True, "tie_word_embeddings": True, "temperature": 1.0,
                   "model_type": "", "ffn_act_fn": {"name": "silu"}, "ffn_hidden_size": 10752,
                   "moe_num_experts": 16, "moe_top_k": 4, "moe_jitter_eps": 0,
                   "moe_loss_weight": 0.05, "moe_normalize_expert_weights": 1,
                   "uniform_expert_assignment": False},
    "initializer_range": 0.02, "max_seq_len": 32768, "model_type": "dbrx", "n_heads": 48,
    "n_layers": 40, "output_router_logits": False, "resid_pdrop": 0.0,
    "router_aux_loss_coef": 0.05, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "transformers_version": "4.39.2", "use_cache": True, "vocab_size": 100352}


def test_the_known_dbrx_shape_counts_what_transformers_builds(tmp_path):
    """dbrx-instruct: 40 blocks of d_model 6144, 48 heads of 128 and 8 KV heads, 16 experts of
    10752 (4 a token), vocab 100352, untied; by hand, against transformers' meta model, and a
    batch-1 step's reads (4 experts a block). Its published config.json is refused until
    written as the known shape is (the rotary base at the top level, the router's norm a
    float), then counted and loaded alike."""
    from prunebench.benchmark.floors import read_params
    from prunebench.checkpoint.architectures import (architecture_config, architecture_values,
                                                     known_shape_of)

    config = architecture_config("dbrx-instruct")
    d, vocab, expert = 6144, 100352, 3 * 6144 * 10752
    block = d * (6144 + 2 * 8 * 128) + d * d + 2 * d + 16 * d + 16 * expert
    total = 2 * vocab * d + d + 40 * block
    assert count_params(config) == total == meta_count("dbrx", config) == 131_596_523_520
    assert config.rope_parameters["rope_theta"] == 500000.0
    assert read_params(config) == total - vocab * d - 40 * 12 * expert == 35_853_146_112
    assert known_shape_of("databricks/dbrx-instruct") == "dbrx-instruct"
    assert known_shape_of("databricks/dbrx-base") is None  # no source of its own
    published = copy.deepcopy(PUBLISHED)
    with pytest.raises(PrunebenchError, match='Add "rope_theta": 500000'):
        checked_config_json(_write_config(tmp_path / "published", published))
    published["rope_theta"] = 500000
    with pytest.raises(PrunebenchError, match="write 1.0"):
        checked_config_json(_write_config(tmp_path / "rope", published))
    published["ffn_config"]["moe_normalize_expert_weights"] = 1.0
    folder = _write_config(tmp_path / "written", published)
    assert count_params(checkpoint_config(folder)) == total
    # prunebench's load reads it on transformers 5.17 too (ffn_config's keys DbrxFFNConfig does
    # not read, which 5.17 refuses, left out), rotating at the published base
    loaded = load_config(folder)
    assert count_params(loaded) == total == meta_count("dbrx", loaded)
    assert loaded.rope_parameters["rope_theta"] == 500000
    values = architecture_values("dbrx-instruct")
    for key in ("d_model", "n_heads", "n_layers", "max_seq_len", "vocab_size"):
        assert values[key] == published[key]
    for sub in DBRX_SHAPE_KEYS:
        assert {k: values[sub][k] for k in values[sub] if k in published[sub]} == {
            k: published[sub][k] for k in values[sub] if k in published[sub]}


def test_the_published_config_json_is_written_at_import_into_a_model_rotating_at_500000(
        tmp_path):
    """dbrx-instruct's config.json as published, read for an import (the start's checks,
    `prunebench plan`), counts as the known shape; written as its import writes it (once: a
    second pass writes nothing), it loads into a config of rotary base 500000, whose rotary
    module's frequencies are those of base 500000, and is read as it is."""
    from prunebench.checkpoint.moe_fuse import write_published_config
    from prunebench.checkpoint.architectures import architecture_config

    folder = _write_config(tmp_path / "published", copy.deepcopy(PUBLISHED))
    total = count_params(architecture_config("dbrx-instruct"))
    assert count_params(checkpoint_config(folder)) == total
    with pytest.raises(PrunebenchError, match="a download or an import writes it so"):
        checked_config_json(folder)
    assert write_published_config(folder) is not None
    assert write_published_config(folder) is None
    config = load_config(folder)
    assert config.rope_parameters["rope_theta"] == 500000
    assert count_params(config) == total == meta_count("dbrx", config)
    rotary = type(build_model(config).transformer.rotary_emb)(config=config)
    head_dim = 6144 // 48
    assert torch.equal(rotary.inv_freq, 1.0 / 500000 ** (
        torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
