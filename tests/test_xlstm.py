"""xLSTM (xlstm, xLSTMForCausalLM: NX-AI's xLSTM-7b), a stack of mLSTM blocks (an RMSNorm, an
mLSTM layer of a matrix memory a head with soft-capped input and forget gates, an RMSNorm and a
gated FFN), no attention, its logits soft-capped, its states in a cache of its own (xLSTMCache),
run by transformers' own code (no xlstm package). Exact counts (against transformers' meta
model, config.json's values alone and by hand, over biases and tying, which xLSTM ignores);
prunebench's model computing transformers' logits, the output soft cap shown to matter; depth
pruning equal to transformers' model of the kept blocks (num_blocks and num_hidden_layers both
written), reloaded by prunebench and by transformers; the hf backend's tokens of a depth-pruned
model equal to transformers' generate (its cache) and to greedy decoding without one; the state
bytes equal to xLSTMCache's; the refusals (width methods, surgery, the compiled decoder,
hf_static, whose static cache transformers' generate ignores; +lora at the start; config.json
sizes, kernels and widths transformers' own code does not run). tests/test_families.py runs
the shared per-family tests on it too."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import xLSTMConfig, xLSTMForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.benchmark.compiled import StaticDecoder
from prunebench.benchmark.floors import kv_cache_bytes
from prunebench.benchmark.runners import HFStaticRunner, static_cache_problem
from prunebench.checkpoint.param_count import config_from_dict, count_params, refuse_moe
from prunebench.methods import surgery
from prunebench.modeling import (build_model, load_config, load_model, remove_blocks,
                                 save_model)
from block_helpers import kept_blocks_state
from test_deepseek import ids, logits, numel, random_model
from test_families import VOCAB, in_allocated_memory
from test_families import tokenizer  # noqa: F401 - a fixture
from test_qwen3_next import check_a_depth_pruned_reload_decodes_as_transformers

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**over) -> xLSTMConfig:
    """A small model of five mLSTM blocks: hidden 64, 2 heads, q / k 64 wide and values 128
    (xLSTMCache needs multiples of 64), an FFN of 96 (1.5 x 64, rounded up to 16), chunks of
    4 tokens."""
    values = dict(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=5, num_heads=2,
                  qk_dim_factor=1.0, v_dim_factor=2.0, ffn_proj_factor=1.5,
                  ffn_round_up_to_multiple_of=16, chunk_size=4, bos_token_id=1, eos_token_id=2,
                  pad_token_id=0)
    values.update(over)
    return xLSTMConfig(**values)


@pytest.fixture(scope="module")
def model():
    return random_model(small())


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("over", [{}, {"use_bias": True}, {"tie_word_embeddings": True},
                                  {"ffn_proj_factor": 2.667, "ffn_round_up_to_multiple_of": 64,
                                   "v_dim_factor": 1.0}])
def test_counts_equal_transformers_parameters(over):
    """Biases on or off, tie_word_embeddings (which xLSTMForCausalLM ignores: its lm_head is
    its own), an FFN width rounded up from a fraction (2.667 x 64 = 170.7 -> 192): the closed
    form, and config_from_dict of the config.json values, equal model.parameters()."""
    config = small(**over)
    model = build_model(config, device="meta")
    assert numel(model) == count_params(config)
    values = json.loads(config.to_json_string())
    assert count_params(config_from_dict(values)) == count_params(config)
    if over.get("tie_word_embeddings"):
        assert model.lm_head.weight is not model.backbone.embeddings.weight


def test_the_count_is_the_sum_of_each_part_by_hand():
    d, heads, qk, v, up = 64, 2, 64, 128, 96
    block = (2 * d  # norm_mlstm, norm_ffn
             + 2 * d * qk + 2 * d * v  # q, k; v, ogate_preact
             + 2 * (d * heads + heads)  # igate_preact, fgate_preact (always biased)
             + v + v * d  # the multi-head norm, out_proj
             + 3 * d * up)  # proj_up_gate, proj_up, proj_down
    assert count_params(small()) == 2 * VOCAB * d + d + 5 * block


def test_config_json_of_embedding_dim_and_num_blocks_alone_is_refused_unless_the_defaults(
        tmp_path):
    """NX-AI's config.json may name embedding_dim and num_blocks alone: xLSTMConfig reads
    hidden_size and num_hidden_layers, their defaults (4096, 32) where left out, which the
    blocks and xLSTMCache read. Values other than those defaults are refused when read
    (transformers' model would not run); the defaults' read as transformers builds them."""
    values = json.loads(small().to_json_string())
    bare = {k: v for k, v in values.items() if k not in ("hidden_size", "num_hidden_layers")}
    (tmp_path / "config.json").write_text(json.dumps(bare))
    with pytest.raises(PrunebenchError, match="hidden_size=4096 and embedding_dim=64, "
                       "num_hidden_layers=32 and num_blocks=5"):
        load_config(tmp_path)
    published = {**bare, "embedding_dim": 4096, "num_blocks": 32}
    assert count_params(config_from_dict(published)) == numel(
        build_model(xLSTMConfig(**published), device="meta"))


# --------------------------------------------------------------------------- logits

def test_prunebench_computes_transformers_logits_soft_capped(model, tmp_path):
    """A checkpoint saved by transformers, loaded by prunebench: transformers' logits, exactly;
    its output soft cap (output_logit_soft_cap, read from the config) shown to matter: a cap of
    0.5 bounds every logit there and gives other logits than the uncapped head."""
    capped = xLSTMConfig(**{**model.config.to_dict(), "output_logit_soft_cap": 0.5})
    theirs = xLSTMForCausalLM(capped).eval()
    theirs.load_state_dict(model.state_dict())
    theirs.save_pretrained(tmp_path / "m")
    ours = load_model(tmp_path / "m")
    x = ids()
    assert torch.equal(logits(ours, x), logits(theirs, x))
    assert logits(ours, x).abs().max() < 0.5
    with torch.no_grad():
        raw = ours.lm_head(ours.backbone(input_ids=x, use_cache=False).last_hidden_state)
    assert raw.abs().max() > 0.6  # the cap changes them
    torch.testing.assert_close(logits(ours, x), 0.5 * torch.tanh(raw / 0.5))


# --------------------------------------------------------------------------- depth pruning

def kept_blocks_model(model, keep: list[int]):
    """transformers' own model of `model`'s blocks `keep` (renumbered)."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = config.num_blocks = len(keep)
    kept = type(model)(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep, blocks="backbone.blocks."), strict=True)
    return kept


@pytest.mark.parametrize("drop", [[0], [1, 3], [0, 1, 2, 3]])
def test_depth_pruning_gives_transformers_model_of_the_kept_blocks(drop, tmp_path):
    """The pruned model, and its save reloaded by prunebench and by transformers, compute the
    logits of transformers' model built of the kept blocks, down to one block; its config.json
    says the kept depth in num_hidden_layers and num_blocks both (xLSTMModel builds num_blocks
    blocks, xLSTMCache num_hidden_layers states)."""
    model = random_model(small())
    keep = [i for i in range(5) if i not in drop]
    x = ids()
    expected = logits(kept_blocks_model(model, keep), x)
    remove_blocks(model, drop)
    assert model.config.num_hidden_layers == model.config.num_blocks == len(keep)
    assert numel(model) == count_params(model.config)
    assert torch.equal(logits(model, x), expected)
    save_model(model, None, tmp_path / "pruned")
    saved = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert saved["num_hidden_layers"] == saved["num_blocks"] == len(keep)
    assert torch.equal(logits(load_model(tmp_path / "pruned"), x), expected)
    theirs = in_allocated_memory(xLSTMForCausalLM.from_pretrained(
        tmp_path / "pruned", dtype=torch.float32)).eval()
    assert torch.equal(logits(theirs, x), expected)


# --------------------------------------------------------------------------- backends

@pytest.mark.parametrize("drop", [[0], [2, 4]])
def test_the_hf_backend_decodes_a_depth_pruned_model_as_transformers_generate(drop, tmp_path):
    """A depth-pruned model reloaded: the hf backend's tokens equal transformers' generate of
    its own loading of the checkpoint (with its xLSTMCache), and greedy decoding without a
    cache wherever that choice is certain; hf_static refused (static_cache_problem)."""
    check_a_depth_pruned_reload_decodes_as_transformers(
        random_model(small()), drop, xLSTMForCausalLM, tmp_path / "pruned")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_state_a_step_reads_is_what_xlstm_cache_holds(dtype):
    """Each block's cell state (qk_head x v_head a head), normaliser and max state, whatever
    the length, in the model's dtype: kv_cache_bytes equals the bytes xLSTMCache holds, before
    and after a depth prune."""
    model = random_model(small()).to(dtype)
    for drop in ([], [1]):
        remove_blocks(model, drop)
        for batch, length in ((1, 5), (2, 9)):
            with torch.no_grad():
                out = model(input_ids=ids(batch, length), use_cache=True)
            cache = getattr(out, "cache", None) or out.cache_params  # (5.17's name)
            states = [t for block in cache.rnn_state.values() for t in block]
            assert len(cache.rnn_state) == model.config.num_hidden_layers
            assert all(t.dtype == dtype for t in states)
            held = sum(t.numel() * t.element_size() for t in states)
            assert held == kv_cache_bytes(model.config, batch, length, dtype)


# --------------------------------------------------------------------------- refusals

def test_width_methods_hf_static_and_the_compiled_backend_refuse_it(model):
    what = r"this 'xlstm' model .*an mLSTM layer"
    with pytest.raises(FamilyUnsupported, match=f"flap .*{what}.*depth method.*the hf backend"):
        refuse_moe(model.config, "flap (width pruning)")
    with pytest.raises(FamilyUnsupported, match=f"width surgery.*{what}"):
        surgery.remove_channels(copy.deepcopy(model), 1, [0])
    with pytest.raises(FamilyUnsupported, match=f"compiled backend.*{what}"):
        StaticDecoder(model, 1, 8, mode="eager")
    assert "xLSTMCache" in static_cache_problem(model)
    with pytest.raises(PrunebenchError, match="hf_static backend cannot run an xLSTM model"):
        HFStaticRunner(model, 4)


def test_the_start_refuses_the_compiled_backend_hf_static_and_lora(tmp_path):
    from prunebench.plan.checks import moe_problems, static_cache_problems

    small().save_pretrained(tmp_path / "m")
    runs = {"models": {"m": {"source": f"local:{tmp_path / 'm'}",
                             "variants": ["dense", "depth_ppl-0.8+lora"]}},
            "benchmark": {"backends": ["hf", "hf_static", "compiled"]}}
    compiled, recovery = moe_problems(runs, tmp_path / "nowhere")
    assert compiled.startswith("models.m (xlstm) ") and "(mLSTM)" in compiled
    assert "(hf runs it)" in compiled
    assert recovery.startswith("models.m (xlstm) is an xLSTM model") and "+lora" in recovery
    static, = static_cache_problems(runs, tmp_path / "nowhere")
    assert static.startswith("models.m: the hf_static backend cannot run an xLSTM model")
    runs["models"]["m"]["variants"] = ["dense"]
    runs["benchmark"]["backends"] = ["hf"]
    assert moe_problems(runs, tmp_path / "nowhere") == []
    assert static_cache_problems(runs, tmp_path / "nowhere") == []


@pytest.mark.parametrize("over, problem", [
    ({"chunkwise_kernel": "chunkwise--triton_xl_chunk"}, "chunkwise_kernel=.*xlstm package's"),
    ({"mode": "train"}, "mode='train'.*no multiple of chunk_size"),
    ({"weight_mode": "fused"}, "weight_mode='fused'.*initialisation"),
    ({"add_out_norm": False}, "add_out_norm=false .*whatever add_out_norm says"),
    ({"qk_dim_factor": 0.5}, "qk width as 32, .*multiple of 64 \\(64\\)"),
    ({"num_blocks": 4}, "num_hidden_layers=5 and num_blocks=4")])
def test_a_config_json_transformers_own_code_does_not_run_is_refused_when_read(
        over, problem, tmp_path):
    """Refused when config.json is read, naming the keys and the fix: the xlstm package's
    Triton kernels (xLSTMConfig refuses them without it), a training mode, the fused weights
    (transformers' initialisation stops), no final norm (xLSTMModel norms anyway), widths
    xLSTMCache rounds to another state size, and num_blocks apart from num_hidden_layers."""
    values = {**json.loads(small().to_json_string()), **over}
    (tmp_path / "config.json").write_text(json.dumps(values))
    with pytest.raises(PrunebenchError, match=problem):
        load_config(tmp_path)


# NX-AI/xLSTM-7b's config.json's kernels: the xlstm package's (its Triton ones)
PUBLISHED_KERNELS = {"chunkwise_kernel": "chunkwise--triton_xl_chunk",
                     "sequence_kernel": "native_sequence__triton", "step_kernel": "triton"}


def test_nx_ais_kernel_names_are_written_as_transformers_own_on_download_and_import(
        model, tmp_path, tokenizer, monkeypatch):  # noqa: F811
    """xLSTM-7b's config.json names the xlstm package's Triton kernels, which xLSTMConfig
    refuses without that package (5.17, 5.25): read as it is, refused naming the import; the
    start's checks read it as written; imported (the folder only read, its config.json's
    sha256 recorded) and downloaded, the three kernels are written as transformers' native
    ones (once), every other value kept, and the model loads computing the logits of the same
    weights (transformers' own code never reads the kernel names)."""
    from huggingface_hub.errors import StrictDataclassFieldValidationError

    from prunebench import hub
    from prunebench.checkpoint.integrity import sha256_file
    from prunebench.checkpoint.local_import import import_local
    from prunebench.checkpoint.moe_fuse import write_published_config
    from prunebench.checkpoint.param_count import checked_config_json
    from prunebench.modeling import MANIFEST
    from test_text_part import fake_fetch

    model.save_pretrained(tmp_path / "hub")
    tokenizer.save_pretrained(tmp_path / "hub")
    published = {**json.loads((tmp_path / "hub" / "config.json").read_text()),
                 **PUBLISHED_KERNELS}
    (tmp_path / "hub" / "config.json").write_text(json.dumps(published))
    with pytest.raises(StrictDataclassFieldValidationError, match="chunkwise_kernel"):
        xLSTMConfig.from_pretrained(tmp_path / "hub")  # (transformers' strict check)
    with pytest.raises(PrunebenchError, match="chunkwise_kernel='chunkwise--triton_xl_chunk', "
                       "the xlstm package's kernel.*A download or an import writes"):
        load_config(tmp_path / "hub")
    assert checked_config_json(tmp_path / "hub", text_part=True)["step_kernel"] == "native"
    original = sha256_file(tmp_path / "hub" / "config.json")
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    fake_fetch(monkeypatch, tmp_path / "hub")
    downloaded = hub.download("NX-AI/xLSTM-7b", "abc", tmp_path / "download")
    assert sha256_file(tmp_path / "hub" / "config.json") == original  # only read
    assert json.loads((out / MANIFEST).read_text())["imported_sha256"]["config.json"] == original
    x = ids(2, 7)
    for folder in (out, downloaded):
        written = json.loads((folder / "config.json").read_text())
        assert written == {**published, "chunkwise_kernel": "chunkwise--native_autograd",
                           "sequence_kernel": "native_sequence__native", "step_kernel": "native"}
        assert write_published_config(folder) is None  # (written once)
        torch.testing.assert_close(logits(load_model(folder), x), logits(model, x),
                                   rtol=0, atol=1e-6)


@pytest.mark.parametrize("over", [{"qk_dim_factor": 0.5}, {"mode": "train"}])
def test_the_refused_widths_and_mode_stop_transformers_generate(over):
    """Why those two are refused: transformers' own model of such a config stops in generate
    (the states' shapes; the training kernel's chunking of a 7-token prompt)."""
    theirs = xLSTMForCausalLM(small(num_hidden_layers=1, **over)).eval()
    with pytest.raises((ValueError, RuntimeError)), torch.no_grad():
        theirs.generate(ids(1, 7), max_new_tokens=2, do_sample=False, pad_token_id=0)
