"""Mixture-of-experts families (Mixtral, Qwen3-MoE, OLMoE, Qwen2-MoE, gpt-oss, DeepSeek-V2/V3,
GraniteMoE, GLM-4.5, ERNIE 4.5, MiniMax-M2, Hunyuan-A13B, Qwen3-Next, Solar Open, Cohere2-MoE): the one-time fusion of per-expert checkpoints, checked against transformers' own
loading of them; gpt-oss's MXFP4 experts dequantized once, checked against transformers'
dequantization and its model; exact counts with Qwen3-MoE's and Qwen2-MoE's dense blocks and
Qwen2-MoE's shared experts; depth pruning that removes exactly the blocks it names (gpt-oss's
sinks, biases and layer types with them); OLMoE's clip_qkv; Qwen2-MoE's gated shared expert; and
the refusals (width methods at plan time, MLP adapters, SDPA for gpt-oss's sinks) and the
bandwidth floor. tests/test_families.py runs the shared per-family tests on them (FAMILIES)."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint import moe_fuse
from prunebench.checkpoint.local_import import import_local
from prunebench.checkpoint.param_count import (FLOAT16_REASONS, active_experts, block_count,
                                               config_from_dict,
                                               num_experts,
                                               sparse_mlp_blocks)
from prunebench.methods.registry import method_function
from prunebench.methods.sizing import check_prunable
from prunebench.modeling import (cast_floating, count_params, final_norm, load_config, load_model,
                                 remove_blocks, save_model, sparse_block, write_manifest)
from test_families import (FAMILIES, MOE, SAME_PATH_AS_ANOTHER, SMALL, TIED, family_model,
                           greedy_tokens_agree, ids, in_allocated_memory, logits, numel)
from test_families import tokenizer  # noqa: F401 - a fixture (getfixturevalue)

pytestmark = pytest.mark.usefixtures("one_thread")

# Each family's published per-expert names: (router, expert prefix, gate, up, down).
HUB_NAMES = {"mixtral": ("block_sparse_moe.gate.weight", "block_sparse_moe.experts", "w1", "w3",
                         "w2"),
             "qwen3_moe": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                           "down_proj"),
             "olmoe": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj", "down_proj"),
             # (its shared expert and gate, `mlp.shared_expert.*`, `mlp.shared_expert_gate`,
             # are single tensors, under the same names in the published files)
             "qwen2_moe": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                           "down_proj"),
             # (its shared experts, `mlp.shared_experts.*`, one MLP, under the same names)
             "deepseek_v2": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                             "down_proj"),
             # (its router `mlp.router.weight` in transformers 5, Mixtral's name in the files)
             "phimoe": ("block_sparse_moe.gate.weight", "block_sparse_moe.experts", "w1", "w3",
                        "w2"),
             # (DeepSeek-V3's names: `mlp.shared_experts.*` and the router's
             # `mlp.gate.e_score_correction_bias` under the same names)
             "glm4_moe": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                          "down_proj"),
             # (its shared experts `mlp.shared_experts.*` under the same names; its score
             # biases' published name, `mlp.moe_statics.*`: tests/test_ernie4_5_moe.py)
             "ernie4_5_moe": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                              "down_proj"),
             # (Mixtral's; its score biases' published name, `block_sparse_moe.
             # e_score_correction_bias`, and FP8 weights: tests/test_minimax_m2.py)
             "minimax_m2": ("block_sparse_moe.gate.weight", "block_sparse_moe.experts", "w1",
                            "w3", "w2"),
             # (Mixtral's; its lightning attention's decay buffers beside: tests/test_minimax.py)
             "minimax": ("block_sparse_moe.gate.weight", "block_sparse_moe.experts", "w1", "w3",
                         "w2"),
             # (its router `mlp.gate.wg.weight` and shared expert `mlp.shared_mlp.*` under the
             # same names; Tencent's config.json of its own code: tests/test_hunyuan_moe.py)
             "hunyuan_v1_moe": ("mlp.gate.wg.weight", "mlp.experts", "gate_proj", "up_proj",
                                "down_proj"),
             # (DeepSeek-V3's names: `mlp.shared_experts.*` and the router's
             # `mlp.gate.e_score_correction_bias` under the same names)
             "dots1": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj", "down_proj"),
             "flex_olmo": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                           "down_proj"),
             # (Qwen2-MoE's; its multi-token-prediction layer `mtp.*`:
             # tests/test_qwen3_next.py)
             "qwen3_next": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                            "down_proj"),
             # (DeepSeek-V3's names, as GLM-4.5's: `mlp.shared_experts.*` and the router's
             # `mlp.gate.e_score_correction_bias` under the same names)
             "solar_open": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                            "down_proj"),
             # (its shared experts `mlp.shared_experts.*` and its dense blocks' `mlp.gate_proj`
             # ... under the same names)
             "cohere2_moe": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                             "down_proj"),
             # (Tencent's Hy3 router name, renamed on load as transformers renames it; its
             # expert_bias and shared_mlp: tests/test_hy_v3_deepseek_v32.py)
             "hy_v3": ("mlp.router.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                       "down_proj"),
             # (DeepSeek-V3's names, the indexer's `self_attn.indexer.*` under the same names)
             "deepseek_v32": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                              "down_proj"),
             # (DeepSeek-V3.2's names, an indexer in the "full" blocks alone; its
             # multi-token-prediction layer: tests/test_glm_moe_dsa.py)
             "glm_moe_dsa": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                             "down_proj"),
             # (DeepSeek-V3's names; its MoE output norm `post_mlp_layernorm`, stored at the
             # block's level: tests/test_axk1.py)
             "axk1": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj", "down_proj"),
             # (DeepSeek-V3's names; its gate MLPs' and q_b_proj's renames: tests/test_axk2.py)
             "axk2": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj", "down_proj"),
             # (GLM-4.5's names; its multi-token-prediction layer:
             # tests/test_exaone_moe_glm4_moe_lite_youtu.py)
             "glm4_moe_lite": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                               "down_proj"),
             # (Qwen2-MoE's; its score biases' published name, `mlp.e_score_correction_bias`,
             # and `mtp.*` layer: tests/test_exaone_moe_glm4_moe_lite_youtu.py)
             "exaone_moe": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                            "down_proj"),
             # (Mixtral's names under its blocks' feed_forward, its expert_bias beside them)
             "lfm2_moe": ("feed_forward.gate.weight", "feed_forward.experts", "w1", "w3", "w2"),
             # (Qwen2-MoE's: AFMoE's router `mlp.router.gate.weight`, `mlp.expert_bias` and
             # shared experts under the same names; Laguna's published score biases and shared
             # expert names, Mellum's MTP layer: tests/test_afmoe_laguna_mellum.py)
             "afmoe": ("mlp.router.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                       "down_proj"),
             "laguna": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj", "down_proj"),
             "mellum": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj", "down_proj"),
             # (Qwen2-MoE's: Beam's router, score-correction buffer and attention gate keep
             # their names)
             "beam": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj", "down_proj"),
             # (Qwen2-MoE's; its published sink name and `model.mtp.*` layers:
             # tests/test_mimo_v2_flash.py)
             "mimo_v2_flash": ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                               "down_proj"),
             # (Qwen2-MoE's under the shortcut MoE, its router `mlp.router.classifier`; its
             # `model.mtp.*` layers: tests/test_longcat_flash.py)
             "longcat_flash": ("mlp.router.classifier.weight", "mlp.experts", "gate_proj",
                               "up_proj", "down_proj"),
             # (Qwen2-MoE's; their published renames: tests/test_flint_kolibri1_minicpm5_moe.py,
             # Kolibri-1.1's: tests/test_kolibri1_1.py)
             **dict.fromkeys(("flint", "kolibri1", "minicpm5_moe", "kolibri1_1"),
                             ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                              "down_proj")),
             # (Qwen2-MoE's; their own code's other names and fused query_key_value:
             # tests/test_sarvam_moe_param2moe.py)
             **dict.fromkeys(("sarvam_moe", "param2moe", "sarvam_mla"),
                             ("mlp.gate.weight", "mlp.experts", "gate_proj", "up_proj",
                              "down_proj"))}
# The families published one tensor per expert (gpt-oss's are fused, in MXFP4: tests below).
PER_EXPERT = sorted(HUB_NAMES)


def per_expert_state(model, name: str) -> dict[str, torch.Tensor]:
    """The model's weights as its family's published checkpoints hold them: one tensor per
    expert and projection, the fused [gate; up] rows split apart."""
    router, experts, gate, up, down = HUB_NAMES[name]
    state = {}
    for key, tensor in model.state_dict().items():
        # (LFM2-MoE's experts are its blocks' feed_forward's)
        block, _, rest = key.partition(".feed_forward." if ".feed_forward." in key else ".mlp.")
        if rest in ("gate.weight", "router.weight"):
            state[f"{block}.{router}"] = tensor
        elif rest == "experts.gate_up_proj":
            width = tensor.shape[1] // 2
            for e in range(tensor.shape[0]):
                state[f"{block}.{experts}.{e}.{gate}.weight"] = tensor[e, :width]
                state[f"{block}.{experts}.{e}.{up}.weight"] = tensor[e, width:]
        elif rest == "experts.down_proj":
            for e in range(tensor.shape[0]):
                state[f"{block}.{experts}.{e}.{down}.weight"] = tensor[e]
        else:
            state[key] = tensor
    return {k: v.detach().contiguous().clone() for k, v in state.items()}


def write_hub_checkpoint(model, name: str, folder, with_tokenizer=None) -> None:
    """A published-style checkpoint in two shards with an index, one block's experts split
    across both (as Mixtral-8x7B's shards split blocks)."""
    folder.mkdir(parents=True)
    model.config.save_pretrained(folder)
    if with_tokenizer is not None:
        with_tokenizer.save_pretrained(folder)
    state = per_expert_state(model, name)

    def second(key: str) -> bool:  # blocks 2 and 3, and block 1's experts 2 and 3
        parts = key.split(".")
        if parts[:2] != ["model", "layers"]:
            return key.startswith("lm_head")
        block = int(parts[2])
        return block >= 2 or (block == 1 and "experts" in parts and int(
            parts[parts.index("experts") + 1]) >= 2)

    shards = {"model-00001-of-00002.safetensors": [k for k in state if not second(k)],
              "model-00002-of-00002.safetensors": [k for k in state if second(k)]}
    for shard, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(folder / shard), metadata={"format": "pt"})
    (folder / "model.safetensors.index.json").write_text(json.dumps({
        "metadata": {}, "weight_map": {k: s for s, keys in shards.items() for k in keys}}))


@pytest.mark.parametrize("name", PER_EXPERT)
def test_a_per_expert_checkpoint_is_fused_once_on_import_as_transformers_loads_it(
        name, tmp_path, request):
    model = family_model(name)
    write_hub_checkpoint(model, name, tmp_path / "hub", request.getfixturevalue("tokenizer"))
    weight_map = json.loads((tmp_path / "hub" / "model.safetensors.index.json").read_text())[
        "weight_map"]
    shards_of = {}  # a block whose experts span both shards: fused across files
    for key, shard in weight_map.items():
        if ".experts." in key:
            shards_of.setdefault(key.split(".")[2], set()).add(shard)
    assert any(len(shards) == 2 for shards in shards_of.values())
    # prunebench's loader refuses the per-expert layout with the way to fuse it.
    raw_copy = tmp_path / "raw"
    shutil.copytree(tmp_path / "hub", raw_copy)
    write_manifest(raw_copy)
    with pytest.raises(PrunebenchError, match="one expert at a time.*import"):
        load_model(raw_copy)

    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    ours = load_model(out)
    theirs = AutoModelForCausalLM.from_pretrained(tmp_path / "hub", dtype=torch.float32).eval()
    x = ids()
    # transformers' conversion of the same files, prunebench's fusion, and the model they came
    # from compute the same logits.
    assert torch.equal(logits(ours, x), logits(theirs, x))
    assert torch.equal(logits(ours, x), logits(model, x))
    assert numel(ours) == count_params(ours.config) == numel(model)
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["fused_from"] == ["model-00001-of-00002.safetensors",
                                    "model-00002-of-00002.safetensors"]
    # (4 experts a block in the tiny configs; Beam's 8, in 4 groups)
    assert sorted(record["experts_per_block"].values()) == [num_experts(model.config)] * sum(
        sparse_mlp_blocks(model.config))
    assert set(record["source_sha256"]) == set(record["fused_from"])
    manifest = json.loads((out / "prunebench.json").read_text())
    assert moe_fuse.RECORD in manifest["files_sha256"]  # the fusion is part of what is verified
    assert set(manifest["imported_sha256"]) == set(record["fused_from"])
    assert not list(out.glob("model-0000*.safetensors"))  # the originals are gone
    # The fused checkpoint is a plain checkpoint of its family to transformers as well.
    again = in_allocated_memory(AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32))
    assert torch.equal(logits(again.eval(), x), logits(model, x))


def test_a_command_given_a_per_expert_folder_imports_it_once_into_its_cache(
        tmp_path, request, monkeypatch):
    """`prunebench bench ./Mixtral-8x7B ...`: the refusals of the folder as it is (the
    loader's, checked_config_json's for FP8, MXFP4 and Hunyuan) tell the user to give a command
    the folder; the command imports it into its cache, fused as a workflow's import fuses it,
    once, and the folder is only read (a command imported multimodal folders alone, and the
    loader then refused this one)."""
    from prunebench.checkpoint import local_import
    from prunebench.commands.model_source import resolve_model
    from test_text_part import files

    model = family_model("mixtral")
    folder = tmp_path / "Mixtral-8x7B"
    write_hub_checkpoint(model, "mixtral", folder, request.getfixturevalue("tokenizer"))
    before = files(folder)
    checkpoint = resolve_model(str(folder), tmp_path / "cache")
    assert checkpoint.path.parent == tmp_path / "cache" and checkpoint.name == "Mixtral-8x7B"
    assert torch.equal(logits(load_model(checkpoint.path), ids()), logits(model, ids()))
    monkeypatch.setattr(local_import, "import_local",
                        lambda *a, **k: pytest.fail("imported again"))
    assert resolve_model(f"local:{folder}", tmp_path / "cache").path == checkpoint.path
    assert files(folder) == before
    # the import itself, given as MODEL, is read as it is
    assert resolve_model(str(checkpoint.path), tmp_path / "cache").path == checkpoint.path


def killed_at_shard(monkeypatch, n: int) -> list:
    """The fusion killed (KeyboardInterrupt) as it starts writing its n-th fused shard, until
    `monkeypatch` is undone; returns the names of the shards it started."""
    real = moe_fuse._write_shard
    calls = []

    def dies_at_the_nth(block, names, where, target, *rest):  # rest: DeepSeek-V3's FP8 tiles
        calls.append(target.name)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(block, names, where, target, *rest)

    monkeypatch.setattr(moe_fuse, "_write_shard", dies_at_the_nth)
    return calls


def test_an_interrupted_fusion_resumes_keeping_the_shards_written_whole(tmp_path, monkeypatch):
    model = family_model("mixtral")
    write_hub_checkpoint(model, "mixtral", tmp_path / "m")
    with monkeypatch.context() as patch:
        calls = killed_at_shard(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            moe_fuse.fuse_experts(tmp_path / "m")
    first = tmp_path / "m" / calls[0]
    written = first.stat().st_mtime_ns
    assert not moe_fuse.finished(tmp_path / "m")
    assert (tmp_path / "m" / moe_fuse.PROGRESS).exists()
    assert moe_fuse.fuse_experts(tmp_path / "m")
    assert first.stat().st_mtime_ns == written  # kept, not written again
    assert moe_fuse.finished(tmp_path / "m") and not (tmp_path / "m" / moe_fuse.PROGRESS).exists()
    assert not moe_fuse.fuse_experts(tmp_path / "m")  # once only
    write_manifest(tmp_path / "m")
    assert torch.equal(logits(load_model(tmp_path / "m"), ids()), logits(model, ids()))


def test_an_incomplete_expert_is_refused_before_anything_changes(tmp_path):
    model = family_model("qwen3_moe")
    write_hub_checkpoint(model, "qwen3_moe", tmp_path / "m")
    for shard in tmp_path.glob("m/model-*.safetensors"):
        state = load_file(shard)
        if "model.layers.0.mlp.experts.3.up_proj.weight" in state:
            del state["model.layers.0.mlp.experts.3.up_proj.weight"]
            save_file(state, str(shard))
    index = tmp_path / "m" / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    del data["weight_map"]["model.layers.0.mlp.experts.3.up_proj.weight"]
    index.write_text(json.dumps(data))
    with pytest.raises(PrunebenchError, match=r"experts are incomplete.*3: \['up'\]"):
        moe_fuse.fuse_experts(tmp_path / "m")
    assert not (tmp_path / "m" / moe_fuse.RECORD).exists()
    assert len(list(tmp_path.glob("m/model-0000*.safetensors"))) == 2


# --------------------------------------------------------------------------- counts

@pytest.mark.parametrize("values", [{"mlp_only_layers": [0, 3]}, {"decoder_sparse_step": 2},
                                    {"mlp_only_layers": [1], "decoder_sparse_step": 3},
                                    {"num_experts": 0}])
def test_qwen3_moe_dense_blocks_count_exactly(values):
    from transformers import Qwen3MoeConfig

    from prunebench.modeling import build_model

    config = Qwen3MoeConfig(**SMALL, **{
        "head_dim": 32, "moe_intermediate_size": 48, "num_experts": 4, "num_experts_per_tok": 2,
        "use_sliding_window": False, "mlp_only_layers": [], "decoder_sparse_step": 1, **values})
    model = build_model(config, device="meta")
    kinds = [type(layer.mlp).__name__ == "Qwen3MoeSparseMoeBlock" for layer in model.model.layers]
    assert kinds == sparse_mlp_blocks(config)
    assert 0 < sum(kinds) < 4 or values == {"num_experts": 0}
    assert count_params(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


@pytest.mark.parametrize("values", [{}, {"mlp_only_layers": [0, 3]}, {"decoder_sparse_step": 2},
                                    {"mlp_only_layers": [1], "decoder_sparse_step": 3},
                                    {"qkv_bias": False}, {"num_experts": 0}])
def test_qwen2_moe_counts_its_shared_experts_in_the_sparse_blocks_only(values):
    """Each sparse block (as mlp_only_layers and decoder_sparse_step choose them, as
    Qwen2MoeDecoderLayer does) counts a router, the experts, a shared expert and its one-output
    gate; each dense block a dense MLP of intermediate_size and nothing shared; q/k/v biases as
    qkv_bias says. The closed form, the config.json alone and transformers' model agree."""
    from transformers import Qwen2MoeConfig

    from prunebench.checkpoint.param_count import block_param_count, layer_shapes
    from prunebench.modeling import build_model

    config = Qwen2MoeConfig(**SMALL, **{
        "moe_intermediate_size": 48, "shared_expert_intermediate_size": 80, "num_experts": 4,
        "num_experts_per_tok": 2, "use_sliding_window": False, "mlp_only_layers": [],
        "decoder_sparse_step": 1, **values})
    model = build_model(config, device="meta")
    kinds = [type(layer.mlp).__name__ == "Qwen2MoeSparseMoeBlock" for layer in model.model.layers]
    assert kinds == sparse_mlp_blocks(config)
    assert 0 < sum(kinds) < 4 or values in ({}, {"qkv_bias": False}, {"num_experts": 0})
    for layer, shape in zip(model.model.layers, layer_shapes(config)):
        assert block_param_count(config, shape) == numel(layer)
        shared = [n for n, _ in layer.named_parameters() if "shared_expert" in n]
        assert shared == ([f"mlp.shared_expert.{p}_proj.weight" for p in ("gate", "up", "down")]
                          + ["mlp.shared_expert_gate.weight"] if shape["sparse_mlp"] else [])
        assert (layer.self_attn.q_proj.bias is not None) == values.get("qkv_bias", True)
    assert count_params(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


@pytest.mark.parametrize("name", ["qwen3_moe", "olmoe", "qwen2_moe"])
def test_a_hub_config_naming_num_experts_counts_them(name):
    values = json.loads(FAMILIES[name]().to_json_string())
    # as Qwen3-30B-A3B's, OLMoE-1B-7B's and Qwen1.5-MoE-A2.7B's config.json name them
    # (OlmoeConfig and Qwen2MoeConfig write it so)
    values["num_experts"] = values.pop("num_local_experts", None) or values["num_experts"]
    assert "num_local_experts" not in values
    assert count_params(config_from_dict(values)) == numel(family_model(name))


# --------------------------------------------------------------------------- depth pruning

class SavedDense(dict):
    """Each family's dense model saved (no tokenizer), on the first test that asks for it."""

    def __init__(self, root):
        super().__init__()
        self.root = root

    def __missing__(self, name):
        save_model(family_model(name), None, self.root / name)
        self[name] = self.root / name
        return self[name]


@pytest.fixture(scope="module")
def dense_dirs(tmp_path_factory) -> SavedDense:
    """The depth methods' dense checkpoints, one per family for its six methods (the tests only
    load them)."""
    return SavedDense(tmp_path_factory.mktemp("moe_dense"))


@pytest.mark.parametrize("method, params", [
    pytest.param(method, params, marks=[pytest.mark.same_path_on_the_floor]
                 if method in SAME_PATH_AS_ANOTHER else [])
    for method, params in [
        ("depth_ppl", {}), ("depth_taylor", {"protect_first": 1, "protect_last": 1}),
        ("depth_mag", {"protect_first": 1, "protect_last": 1}), ("depth_angular", {}),
        ("sleb", {}), ("shortgpt", {})]])
@pytest.mark.parametrize("name", sorted(MOE))
def test_depth_methods_remove_exactly_the_blocks_they_name(name, method, params, dense_dirs,
                                                          tmp_path):
    """The pruned model computes what the dense model does with those blocks dropped, and so
    does it reloaded (Qwen3-MoE's dense block keeps its kind wherever it moves)."""
    # Loaded from disk as every prune's model is (an in-memory model's experts, of another
    # memory layout, may round their last bit otherwise than the same weights loaded).
    model = load_model(dense_dirs[name])
    dense_params, blocks = numel(model), block_count(model.config)
    block_params = [sum(p.numel() for p in layer.parameters()) for layer in model.model.layers]
    # (whole periods or groups only: tests/test_jamba.py, tests/test_inkling2.py)
    if name in ("jamba", "inkling2_text") and method == "sleb":
        with pytest.raises(PrunebenchError, match="sleb removes one block a round"):
            method_function(method)(model, ids(8, 24, seed=3), int(0.8 * dense_params), **params)
        assert numel(model) == dense_params
        return
    report = method_function(method)(model, ids(8, 24, seed=3), int(0.8 * dense_params),
                                      **params)
    removed = report["removed_blocks"]
    assert removed and block_count(model.config) == blocks - len(removed)
    expected = remove_blocks(load_model(dense_dirs[name]), removed)
    x = ids()
    assert torch.equal(logits(model, x), logits(expected, x))
    # (ZAYA's router left first loses its router_states_scale, as block 0's has none)
    first_scale = model.config.router_hidden_size if name == "zaya" and 0 in removed else 0
    assert numel(model) == count_params(model.config) == dense_params - first_scale - sum(
        block_params[i] for i in removed)
    if method in SAME_PATH_AS_ANOTHER:  # (a depth-pruned model saved and reloaded: the others')
        return
    save_model(model, None, tmp_path / "p")
    reloaded = load_model(tmp_path / "p")
    assert torch.equal(logits(reloaded, x), logits(model, x))
    kinds = [type(sparse_block(layer)).__name__ for layer in reloaded.model.layers]
    assert kinds == [type(sparse_block(layer)).__name__ for layer in model.model.layers]


@pytest.mark.parametrize("name", ["qwen3_moe", "qwen2_moe"])
def test_removing_blocks_renumbers_the_dense_blocks(name):
    model = family_model(name)  # block 2 dense
    remove_blocks(model, [0])
    assert model.config.mlp_only_layers == [1] and model.config.decoder_sparse_step == 1
    assert sparse_mlp_blocks(model.config) == [True, False, True]
    remove_blocks(model, [1])  # the dense block itself
    assert model.config.mlp_only_layers == [] and sparse_mlp_blocks(model.config) == [True] * 2


@pytest.mark.parametrize("name, values", [
    ("mixtral", {}),
    ("qwen3_moe", {"mlp_only_layers": [0, 3], "decoder_sparse_step": 1}),
    ("qwen3_moe", {"mlp_only_layers": [4], "decoder_sparse_step": 2}),
    ("qwen3_moe", {"decoder_sparse_step": 2}),  # no mlp_only_layers: every kept block named
    ("qwen2_moe", {"mlp_only_layers": [], "decoder_sparse_step": 1}),
    ("deepseek_v3", {"first_k_dense_replace": 2}),
    ("ernie4_5_moe", {"moe_layer_start_index": 1, "moe_layer_end_index": -1,
                      "moe_layer_interval": 1}),
    ("ernie4_5_moe", {"moe_layer_start_index": 0, "moe_layer_end_index": 3,
                      "moe_layer_interval": 2}),
    ("llama4_text", {"moe_layers": [1, 2, 4]}),
    ("llama4_text", {"interleave_moe_layer_step": 2})])
def test_every_removal_leaves_the_config_saying_each_kept_blocks_kind(name, values):
    """Whatever blocks a depth prune keeps, the config values `SparseBlocks.kept` gives them say
    each kept block's kind again under its new index, or are refused where the family's keys
    cannot say it (ERNIE 4.5's range with an interval above 1) and nowhere else."""
    from itertools import combinations
    from types import SimpleNamespace

    from prunebench.checkpoint.param_count import FAMILIES as LAYOUTS

    config = SimpleNamespace(model_type=name, num_hidden_layers=5, num_experts=4, **values)
    rule = LAYOUTS[name].sparse_blocks
    kinds = sparse_mlp_blocks(config)
    assert any(kinds)
    refused = 0
    for n in range(6):
        for keep in combinations(range(5), n):
            kept = [kinds[i] for i in keep]
            pruned = copy.copy(config)
            pruned.num_hidden_layers = n
            try:
                vars(pruned).update(rule.kept(kept))
            except PrunebenchError as error:
                assert values.get("moe_layer_interval", 1) > 1, error
                refused += 1
                continue
            assert sparse_mlp_blocks(pruned) == kept, keep
    assert (refused > 0) == (values.get("moe_layer_interval", 1) > 1)


def test_olmoes_clip_qkv_runs_as_transformers_runs_it(tmp_path):
    """clip_qkv (null in the published configs) clamps queries, keys and values inside
    transformers' own OlmoeAttention, which prunebench runs unchanged (the compiled decoder,
    which would have to clamp them itself, refuses every mixture of experts): it survives the
    round trip, Taylor+'s gradients pass the clamp, the pruned model is the dense one without
    the removed blocks, and the hf_static backend decodes what HF generate does."""
    model = family_model("olmoe")
    unclipped = logits(model, ids())
    model.config.clip_qkv = 0.5  # low enough to clamp this random model's projections
    assert (logits(model, ids()) - unclipped).abs().max() > 1e-3
    save_model(model, None, tmp_path / "dense")
    loaded = load_model(tmp_path / "dense")
    assert loaded.config.clip_qkv == 0.5
    theirs = AutoModelForCausalLM.from_pretrained(tmp_path / "dense", dtype=torch.float32).eval()
    assert torch.equal(logits(loaded, ids()), logits(theirs, ids()))
    report = method_function("depth_taylor")(loaded, ids(8, 24, seed=3),
                                             int(0.8 * numel(loaded)), protect_first=1,
                                             protect_last=1)
    assert report["removed_blocks"]
    expected = remove_blocks(load_model(tmp_path / "dense"), report["removed_blocks"])
    assert torch.equal(logits(loaded, ids()), logits(expected, ids()))
    greedy_tokens_agree(loaded)


def test_qwen2_moes_sparse_block_adds_its_gated_shared_expert_to_the_routed_experts():
    """What transformers' Qwen2MoeSparseMoeBlock computes, which prunebench runs unchanged and
    counts (docs/families.md): each token's top-2 experts weighed by their router
    probabilities, not renormalised, plus the shared expert scaled by the sigmoid of its
    one-output gate; a gate driven far negative silences the shared expert, and the model's
    logits change with it."""
    import torch.nn.functional as F

    model = family_model("qwen2_moe")
    block = model.model.layers[0].mlp
    x = torch.randn(1, 7, 64, generator=torch.Generator().manual_seed(4))

    def by_hand(block, x):
        h = x.reshape(-1, 64)
        probs = F.softmax(h @ block.gate.weight.T, dim=-1)
        weights, chosen = torch.topk(probs, 2, dim=-1)  # not renormalised: norm_topk_prob false
        routed = torch.zeros_like(h)
        for t in range(h.shape[0]):
            for w, e in zip(weights[t], chosen[t]):
                gate, up = (block.experts.gate_up_proj[e] @ h[t]).chunk(2)
                routed[t] += w * (block.experts.down_proj[e] @ (F.silu(gate) * up))
        s = block.shared_expert
        shared = s.down_proj(F.silu(s.gate_proj(h)) * s.up_proj(h))
        return routed, torch.sigmoid(block.shared_expert_gate(h)) * shared

    with torch.no_grad():
        routed, gated_shared = by_hand(block, x)
        assert gated_shared.abs().max() > 1e-3
        torch.testing.assert_close(block(x).reshape(-1, 64), routed + gated_shared,
                                   rtol=1e-5, atol=1e-6)
        before = logits(model, ids())
        for i in (0, 1, 3):  # the sparse blocks (block 2 is dense)
            model.model.layers[i].mlp.shared_expert_gate.weight.copy_(
                -1e4 * torch.sign(x[0, 0]))
        silenced = model.model.layers[0].mlp(x[:, :1]).reshape(-1, 64)
        torch.testing.assert_close(silenced, by_hand(block, x[:, :1])[0], rtol=1e-5, atol=1e-6)
        assert (logits(model, ids()) - before).abs().max() > 1e-3


def test_a_qwen2_moe_checkpoint_loads_tensor_for_tensor_as_transformers_loads_it(tmp_path,
                                                                                 request):
    """Qwen1.5-MoE's and Qwen2-57B's published layout: numbered experts
    (`mlp.experts.E.gate_proj / up_proj / down_proj.weight`), a shared expert
    (`mlp.shared_expert.*`) and its gate (`mlp.shared_expert_gate.weight`) beside them, and here
    a dense block (block 2). Imported, the numbered experts are fused and everything else kept
    under its name: every tensor prunebench loads is the one transformers' own
    `from_pretrained` makes of the per-expert files (its `qwen2_moe` conversion mapping, in
    the installed version), bit for bit, and nothing else."""
    model = family_model("qwen2_moe")
    write_hub_checkpoint(model, "qwen2_moe", tmp_path / "hub",
                         request.getfixturevalue("tokenizer"))
    index = json.loads((tmp_path / "hub" / "model.safetensors.index.json").read_text())
    published = set(index["weight_map"])
    assert {"model.layers.0.mlp.experts.3.down_proj.weight",
            "model.layers.0.mlp.shared_expert.gate_proj.weight",
            "model.layers.3.mlp.shared_expert_gate.weight",
            "model.layers.2.mlp.gate_proj.weight"} <= published
    assert not any(k.startswith("model.layers.2.mlp.") and "expert" in k for k in published)
    theirs = AutoModelForCausalLM.from_pretrained(tmp_path / "hub", dtype=torch.float32).eval()
    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    ours = load_model(out)
    expected, loaded = theirs.state_dict(), ours.state_dict()
    assert sorted(loaded) == sorted(expected)
    assert [k for k in loaded if not torch.equal(loaded[k], expected[k])] == []
    fused = set(json.loads((out / "model.safetensors.index.json").read_text())["weight_map"])
    assert {k for k in published if ".experts." not in k} <= fused  # kept under their names
    assert not any(".experts.0." in k for k in fused)
    assert sorted(json.loads((out / moe_fuse.RECORD).read_text())["experts_per_block"]) == [
        f"model.layers.{i}" for i in (0, 1, 3)]


@pytest.mark.parametrize("name", ["mixtral", "granitemoe"])  # experts under mlp, block_sparse_moe
def test_mag_plus_scores_the_experts_weights(name):
    from prunebench.methods.depth_mag import magnitude_scores

    model = family_model(name)
    before = magnitude_scores(model)
    with torch.no_grad():
        sparse_block(model.model.layers[2]).experts.down_proj.mul_(10)
    after = magnitude_scores(model)
    assert after[2] > before[2] and after[:2] == before[:2]


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("method", ["llm_pruner", "flap", "wanda_sp", "blockpruner"])
@pytest.mark.parametrize("name", sorted(MOE))
def test_width_methods_are_refused_from_the_config_alone(name, method):
    """What the workflow's start checks and `prunebench plan` run (torch-free): refused there,
    before any job, with the depth methods named."""
    config = config_from_dict(json.loads(FAMILIES[name]().to_json_string()))
    with pytest.raises(PrunebenchError, match=f"{method} .*{name}.*depth method.*hf_static"):
        check_prunable(config, method, "0.8")
    # a depth method plans it: its target is 80% of the exact count
    assert check_prunable(config, "depth_ppl", "0.8") == round(0.8 * count_params(config))


@pytest.mark.parametrize("name", sorted(MOE))
def test_lora_refuses_expert_targets_and_adapts_the_attention(name):
    from prunebench import lora

    model = family_model(name)
    if name in ("deepseek_v3", "mistral4", "deepseek_v32", "glm4_moe_lite", "glm_moe_dsa",
                "axk1", "dots3_note_text", "hy_v4", "axk2", "deepseek_v2",
                "longcat_flash"):
        # latent attention (plan.lora_settings.LATENT_TARGETS): q_proj its query path, its
        # q_a_proj and q_b_proj (A.X K2's q_gate_proj; DeepSeek-V2's one q_proj without a
        # query rank), o_proj its o_proj (k_proj and v_proj: tests/test_deepseek.py)
        if name != "longcat_flash":  # (its dense MLPs beside the experts take the MLP
            # targets: plan.lora_settings.DENSE_MLPS_BESIDE_EXPERTS, tests/test_longcat_flash.py)
            with pytest.raises(PrunebenchError, match=r"\['gate_proj'\].*fused 3D.*"
                                                      r"\['q_proj', 'o_proj'\]"):
                lora.lora_target_names(model, ["q_proj", "o_proj", "gate_proj"])
        query = {"axk2": ("q_a_proj", "q_gate_proj"),
                 "deepseek_v2": ("q_proj",)}.get(name, ("q_a_proj", "q_b_proj"))
        chosen, _ = lora.lora_target_names(model, ["q_proj", "o_proj"])
        # (LongCat-Flash's blocks: two latent attentions each, self_attn.0 and self_attn.1)
        attentions = ("self_attn.0", "self_attn.1") if name == "longcat_flash" else ("self_attn",)
        assert sorted(chosen) == sorted(f"model.layers.{b}.{attention}.{part}" for b in range(4)
                                        for attention in attentions for part in (*query, "o_proj"))
        return
    if name == "deepseek_v4":
        # its attention's own linear layers by target (plan.lora_settings.OWN_TARGETS): q_proj
        # its q_a_proj and q_b_proj, o_proj its o_b_proj (tests/test_deepseek_v4.py: the rest)
        with pytest.raises(PrunebenchError, match=r"\['gate_proj'\].*fused 3D"):
            lora.lora_target_names(model, ["q_proj", "o_proj", "gate_proj"])
        chosen, _ = lora.lora_target_names(model, ["q_proj", "o_proj"])
        assert chosen == [f"model.layers.{b}.self_attn.{part}" for b in range(4)
                          for part in ("q_a_proj", "q_b_proj", "o_b_proj")]
        return
    if name == "inkling2_text":
        # its attention's projections are modules of their own around a linear layer
        # (q_proj.linear ...): no target of LLaMA's names to adapt (named), MLP's neither
        for targets in (["q_proj", "o_proj"], ["q_proj", "o_proj", "gate_proj"]):
            with pytest.raises(PrunebenchError, match=r"Inkling2ForCausalLM does not hold.*"
                                                      r"q_proj\.linear.*take \+lora out"):
                lora.lora_target_names(model, targets)
        return
    if name == "jetmoe":
        # its attention's query and output projections are its attention experts' fused 3D
        # parameters, its MLP's experts too (named: refused); k_proj and v_proj its kv_proj
        with pytest.raises(PrunebenchError, match=r"\['q_proj', 'o_proj'\].*JetMoeForCausalLM "
                                                  r"holds as its experts'.*self_attention"):
            lora.lora_target_names(model, ["q_proj", "k_proj", "v_proj", "o_proj"])
        chosen, _ = lora.lora_target_names(model, ["k_proj", "v_proj"])
        assert chosen == [f"model.layers.{b}.self_attention.kv_proj" for b in range(4)]
        return
    if name == "minimax":
        # its lightning blocks pack q, k and v in one qkv_proj (named all or none, as Phi-3's)
        # and hold out_proj as o_proj: softmax blocks' four and lightning blocks' two adapted
        with pytest.raises(PrunebenchError, match=r"names \['q_proj'\] but not \['k_proj', "
                                                  r"'v_proj'\].*one qkv_proj"):
            lora.lora_target_names(model, ["q_proj", "o_proj"])
        with pytest.raises(PrunebenchError, match=r"\['gate_proj'\].*fused 3D"):
            lora.lora_target_names(model, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj"])
        chosen, _ = lora.lora_target_names(model, ["q_proj", "k_proj", "v_proj", "o_proj"])
        assert chosen == [f"model.layers.{b}.self_attn.{name}" for b in range(4)
                          for name in (("q_proj", "k_proj", "v_proj", "o_proj") if b % 2 == 0
                                       else ("qkv_proj", "out_proj"))]
        return
    if name == "ergo":
        # q, k and v packed in one qkv_proj (named all or none, as Phi-3's); its ungated
        # experts hold no gate_proj to refuse
        with pytest.raises(PrunebenchError, match=r"names \['q_proj'\] but not \['k_proj', "
                                                  r"'v_proj'\].*one qkv_proj"):
            lora.lora_target_names(model, ["q_proj", "o_proj"])
        chosen, _ = lora.lora_target_names(model, ["q_proj", "k_proj", "v_proj", "o_proj"])
        assert chosen == [f"model.layers.{b}.self_attn.{name}" for b in range(4)
                          for name in ("qkv_proj", "o_proj")]
        return
    if name == "zaya":
        # its CCA projection (qkv_proj) holds q_proj, k_proj and the two value halves apart,
        # each adapted as the part it is
        chosen, _ = lora.lora_target_names(model, ["q_proj", "k_proj", "v_proj", "o_proj"])
        assert chosen == [f"model.layers.{b}.self_attn.{part}" for b in range(4)
                          for part in ("o_proj", "qkv_proj.q_proj", "qkv_proj.k_proj",
                                       "qkv_proj.v_proj_current", "qkv_proj.v_proj_delayed")]
    if name == "dbrx":
        # q, k and v packed in one Wqkv (named all or none, as Phi-3's qkv_proj), out_proj
        # as o_proj, under each block's norm_attn_norm
        with pytest.raises(PrunebenchError, match=r"\['gate_proj'\].*DbrxForCausalLM.*fused 3D"):
            lora.lora_target_names(model, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj"])
        chosen, _ = lora.lora_target_names(model, ["q_proj", "k_proj", "v_proj", "o_proj"])
        assert chosen == [f"transformer.blocks.{b}.norm_attn_norm.attn.{name}"
                          for b in range(4) for name in ("Wqkv", "out_proj")]
        return
    with pytest.raises(PrunebenchError, match=r"gate_proj.*fused 3D.*\['q_proj', 'o_proj'\]"):
        lora.lora_target_names(model, ["q_proj", "o_proj", "gate_proj"])
    chosen, _ = lora.lora_target_names(model, ["q_proj", "o_proj"])
    # every block's attention (Qwen3-Next's full-attention blocks: its Gated DeltaNet blocks
    # hold no q_proj or o_proj; Granite 4.0's Mamba-2 blocks hold self_attn None; LFM2-MoE's
    # short-convolution blocks no self_attn)
    attention = sum(getattr(layer, "self_attn", None) is not None for layer in model.model.layers)
    assert attention == (2 if name in ("qwen3_next", "granitemoehybrid",
                                       "qwen3_5_moe_text", "lfm2_moe", "jamba",
                                       "lara_mini") else 4)
    # (MiniMax-M3's indexers, in its sparse blocks 0 and 2, hold a q_proj of their own: the
    # name adapts it too, as every linear layer of the name)
    indexers = 2 if name == "minimax_m3_vl_text" else 0
    assert len(chosen) == 2 * attention + indexers and all(".self_attn." in n for n in chosen)


def bytes_read_at_batch_one(model) -> int:
    """What a batch-1 decode step of `model` reads, tensor by tensor as the model holds them
    (numel x element size): each block's parameters and the buffers its checkpoint saves (the
    routers' score-correction biases), of a sparse block's fused experts (`.experts.`) the
    router's top k, then HY-V4's hc_head, Inkling 2's final_input, the final norm and the LM
    head (with tied embeddings
    the table)."""
    saved = set(model.state_dict())
    total = 0
    for i, layer in enumerate(model.model.layers):
        buffers = [(n, b) for n, b in layer.named_buffers() if f"model.layers.{i}.{n}" in saved]
        for pname, tensor in [*layer.named_parameters(), *buffers]:
            nbytes = tensor.numel() * tensor.element_size()
            if model.config.model_type == "jetmoe":
                # JetMoE's MLP experts and attention experts (its mixture of attention heads),
                # each JetMoeParallelExperts' fused weight; the attention's router and output
                # bias under `experts.` are read whole
                routed = type(layer.get_submodule(pname.rsplit(".", 1)[0])).__name__.endswith(
                    "ParallelExperts")
            else:
                routed = ".experts." in f".{pname}"
            if routed:  # each block's own top k (Hunyuan's differ here)
                nbytes = nbytes * active_experts(model.config)[i] // num_experts(model.config)
            total += nbytes
    # (HY-V4's hc_head, collapsing its residual streams before the final norm; Inkling 2's
    # final_input, its block attention residual's query there)
    head = [getattr(model.model, name) for name in ("hc_head", "final_input")
            if hasattr(model.model, name)]
    for module in (*head, final_norm(model), model.lm_head):
        total += sum(p.numel() * p.element_size() for p in module.parameters())
    return total


@pytest.mark.parametrize("name", sorted(MOE))
def test_the_bandwidth_floor_reads_the_routed_experts_at_batch_one_only(name):
    """A batch-1 step reads k of the experts of each sparse block, and everything else whole:
    attention, router (DeepSeek-V3's, GLM-4.5's and MiniMax-M2's score-correction bias, a
    buffer, too), a dense block's MLP, and Qwen2-MoE's shared expert and its gate, which every
    token goes through (`.experts.` is no part of their names)."""
    from prunebench.benchmark.floors import add_floor, kv_cache_bytes, weight_bytes

    config = load_config_of(name)
    model = family_model(name)
    read = bytes_read_at_batch_one(model)  # float32: 4 bytes a value
    assert weight_bytes(config, torch.float32) == read
    shared = sum(p.numel() for n, p in model.named_parameters()
                 if "shared_expert" in n or "shared_mlp" in n)
    # Qwen2-MoE's shared expert and DeepSeek-V3's shared experts: counted whole in `read`
    assert (shared > 0) == (name in ("qwen2_moe", "deepseek_v3", "deepseek_v2", "glm4_moe",
                                     "ernie4_5_moe", "hunyuan_v1_moe",
                                     "llama4_text", "qwen3_next", "granitemoehybrid",
                                     "mistral4", "qwen3_5_moe_text",
                                     "granitemoeshared", "dots1", "solar_open",
                                     "cohere2_moe", "granitemoe_swa", "afmoe", "laguna",
                                     "hy_v3", "deepseek_v32", "exaone_moe", "glm4_moe_lite",
                                     "glm_moe_dsa", "axk1", "kimi_linear", "bailing_hybrid",
                                     "dots3_note_text",
                                     "flint", "kolibri1", "minicpm5_moe", "aria_text",
                                     "sarvam_moe", "param2moe", "sarvam_mla", "ergo",
                                     "kolibri1_1", "lara_mini", "hy_v4",
                                     "axk2", "minimax_m3_vl_text", "inkling_text",
                                     "deepseek_v4"))
    row = {"batch_size": 1, "decode_step_s": 1.0}
    add_floor(row, config, input_tokens=4, output_tokens=4, dtype=torch.float32, bandwidth=1e9,
              backend="hf")
    # the routed experts' bytes and the KV cache of the mean context (4 + 4 // 2), at 1 GB/s
    assert row["floor_s"] == pytest.approx(
        (read + kv_cache_bytes(config, 1, 6, torch.float32)) / 1e9, rel=1e-12)
    assert "floor_note" not in row
    row = {"batch_size": 2, "decode_step_s": 1.0}
    add_floor(row, config, input_tokens=4, output_tokens=4, dtype=torch.float32, bandwidth=1e9,
              backend="hf")
    assert row["floor_s"] is None and row["pct_of_floor"] is None
    assert "mixture of experts" in row["floor_note"]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", sorted(MOE | {"llama3", "qwen2_tied"}))
def test_the_batch_one_floor_reads_what_transformers_keeps_in_float32_at_four_bytes(name, dtype):
    """The floor's weight bytes in half precision are those of the model as loading holds it
    (cast_floating: transformers' float32 lists of the installed version, test_float32_kept.py):
    DeepSeek-V3's routers and their score biases, gpt-oss's norms in float16 only, Hunyuan-A13B's
    routers at 4 bytes a value, everything else at 2; a dense LLaMA's all at 2 as before."""
    from prunebench.benchmark.floors import read_params, weight_bytes

    config = {**FAMILIES, **TIED}[name]()
    if dtype == torch.float16 and name in FLOAT16_REASONS:  # (DeepSeek-V4: not run so)
        with pytest.raises(PrunebenchError, match="cannot run in float16"):
            cast_floating(family_model(name), dtype)
        return
    model = cast_floating(family_model(name), dtype)
    kept = sum(t.numel() for t in [*model.parameters(), *model.buffers()]
               if t.dtype == torch.float32)
    assert weight_bytes(config, dtype) == bytes_read_at_batch_one(model)
    if name in ("llama3", "qwen2_tied"):  # nothing kept, no buffer: every value at 2 bytes
        assert kept == 0 and weight_bytes(config, dtype) == 2 * read_params(config)
    if name == "deepseek_v3":  # the score biases in every version, the routers in 5.25
        assert kept > 0 and weight_bytes(config, dtype) > 2 * read_params(config)
    if name == "gpt_oss":  # its norms, read whole, at 4 bytes in float16 and 2 in bfloat16
        norms = sum(p.numel() for n, p in model.named_parameters() if "norm" in n)
        assert kept == (norms if dtype == torch.float16 else 0)
        assert weight_bytes(config, dtype) == 2 * read_params(config) + 2 * kept


def load_config_of(name: str):
    return FAMILIES[name]()


def test_a_saved_mixture_of_experts_checkpoint_is_fused_and_left_alone(tmp_path):
    model = family_model("mixtral")
    save_model(model, None, tmp_path / "m")
    assert not moe_fuse.needs_fusion(tmp_path / "m")
    assert not moe_fuse.fuse_experts(tmp_path / "m")
    assert load_config(tmp_path / "m").model_type == "mixtral"


def test_the_start_refuses_what_a_mixture_of_experts_cannot_do(tmp_path):
    """A local Mixtral's +lora variant with the default (MLP) targets and a compiled backend,
    and its width variants: each said at the start, before any job."""
    from prunebench.plan.checks import moe_problems, prunable_problems

    folder = tmp_path / "mixtral"
    folder.mkdir()
    FAMILIES["mixtral"]().save_pretrained(folder)
    config = {"models": {"m": {"source": f"local:{folder}",
                               "variants": ["depth_ppl-0.8+lora", "flap-0.8"]}},
              "benchmark": {"backends": ["hf", "compiled"]}}
    found = moe_problems(config, tmp_path / "nowhere")
    assert len(found) == 2
    assert "compiled backend does not run" in found[0] and "hf and hf_static" in found[0]
    assert "lora.target_modules names ['gate_proj', 'up_proj', 'down_proj']" in found[1]
    config["benchmark"]["backends"] = ["hf", "hf_static"]
    config["lora"] = {"target_modules": ["q_proj", "v_proj"]}
    assert moe_problems(config, tmp_path / "nowhere") == []
    assert any("flap (width pruning) does not support the mixture-of-experts" in p
               for p in prunable_problems(config, tmp_path / "nowhere"))


# A published id of each family, naming its known shape (Granite 4.0's hybrid models have
# none: no published config.json of theirs was confirmed, so no id names one).
HUB_IDS = {"mixtral": "mistralai/Mixtral-8x7B-Instruct-v0.1", "qwen3_moe": "Qwen/Qwen3-30B-A3B",
           "olmoe": "allenai/OLMoE-1B-7B-0924-Instruct",
           "qwen2_moe": "Qwen/Qwen1.5-MoE-A2.7B-Chat", "gpt_oss": "openai/gpt-oss-20b",
           "deepseek_v3": "deepseek-ai/DeepSeek-R1",
           "deepseek_v2": "deepseek-ai/DeepSeek-V2-Lite-Chat",
           "granitemoe": "ibm-granite/granite-3.1-3b-a800m-instruct",
           "phimoe": "microsoft/Phi-3.5-MoE-instruct",
           "glm4_moe": "zai-org/GLM-4.5-Air", "ernie4_5_moe": "baidu/ERNIE-4.5-21B-A3B-PT",
           "minimax_m2": "MiniMaxAI/MiniMax-M2",
           "hunyuan_v1_moe": "tencent/Hunyuan-A13B-Instruct",
           "llama4_text": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
           "qwen3_next": "Qwen/Qwen3-Next-80B-A3B-Instruct",
           "dots1": "rednote-hilab/dots.llm1.inst", "dbrx": "databricks/dbrx-instruct",
           "solar_open": "upstage/Solar-Open-100B", "glm4_moe_lite": "zai-org/GLM-4.7-Flash"}


@pytest.mark.parametrize("name", sorted(MOE & HUB_IDS.keys()))
def test_a_hub_id_naming_a_mixture_of_experts_refuses_its_width_variants_before_download(
        name, tmp_path):
    """A published id names its family before anything is downloaded: its width variants are
    refused at the start, and so is the compiled backend. A size its published shape cannot
    reach is left to the prune job, which reads the downloaded config (a fine-tune under that
    id may have other sizes); a downloaded model's size problems are said at once."""
    from prunebench import FamilyUnsupported
    from prunebench.plan.checks import moe_problems, prunable_problems

    variants = ["depth_ppl-0.99", "flap-0.8", "llm_pruner-0.6", "wanda_sp-0.8",
                "blockpruner-0.8"]
    config = {"models": {"m": {"source": f"hf:{HUB_IDS[name]}", "variants": variants}},
              "benchmark": {"backends": ["hf", "compiled"]}}
    found = prunable_problems(config, tmp_path / "nowhere")
    refused = [p.split(":")[0] for p in found]
    assert refused == [f"model m, variant {v}" for v in
                       ("flap-0.8", "llm_pruner-0.6", "wanda_sp-0.8", "blockpruner-0.8")]
    assert all(f"mixture-of-experts family '{name}'" in p and "depth method" in p for p in found)
    compiled, = moe_problems(config, tmp_path / "nowhere")
    assert "compiled backend does not run" in compiled
    with pytest.raises(FamilyUnsupported):
        check_prunable(FAMILIES[name](), "flap", "0.8")
    # The same model downloaded: its config is read, and the unreachable size said too.
    folder = tmp_path / name
    folder.mkdir()
    FAMILIES[name]().save_pretrained(folder)
    config["models"]["m"]["source"] = f"local:{folder}"
    found = prunable_problems(config, tmp_path / "nowhere")
    assert [p.split(":")[0] for p in found][0] == "model m, variant depth_ppl-0.99"
    assert len(found) == 5


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_a_model_built_in_half_precision_never_holds_float32_weights(dtype):
    """A random model is made in the dtype asked for, not in float32 and then cast: a
    mixture of experts built so first would need twice its size (Mixtral-8x7B: 187 GB, more
    than one GPU has). Every parameter is registered in `dtype`, and the default is left as
    it was."""
    from torch.nn.modules.module import register_module_parameter_registration_hook

    from prunebench.modeling import build_model

    registered = []
    hook = register_module_parameter_registration_hook(
        lambda module, name, param: registered.append(param.dtype))
    try:
        model = build_model(FAMILIES["mixtral"](), device="cpu", dtype=dtype)
    finally:
        hook.remove()
    assert registered and set(registered) == {dtype}
    assert {p.dtype for p in model.parameters()} == {dtype}
    assert torch.get_default_dtype() == torch.float32


def test_an_olmoe_config_whose_heads_do_not_fill_its_hidden_size_is_refused(tmp_path):
    """OLMoE's q_norm is hidden_size wide: a head_dim other than hidden / heads (which
    OlmoeConfig takes) was counted and built, then stopped at the first forward."""
    from prunebench.checkpoint.param_count import checked_config_json, checkpoint_config
    from test_families import _write_config

    values = family_model("olmoe").config.to_dict()
    heads, hidden = values["num_attention_heads"], values["hidden_size"]
    fitting = _write_config(tmp_path / "fits", {**values, "head_dim": hidden // heads})
    assert checked_config_json(fitting)["head_dim"] == hidden // heads
    wider = _write_config(tmp_path / "wider", {**values, "head_dim": 2 * hidden // heads})
    for read in (checked_config_json, checkpoint_config):  # the load's check, and plan's
        with pytest.raises(PrunebenchError, match=f"head_dim={2 * hidden // heads} with "
                                                  f"num_attention_heads={heads} and "
                                                  f"hidden_size={hidden}: OLMoE's q_norm"):
            read(wider)


# --------------------------------------------------------------------------- gpt-oss

# The e2m1 (FP4) values by their 4-bit codes, as the OCP Microscaling format defines them.
E2M1 = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
                     -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0])


def quantize_mxfp4(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An expert weight as openai's gpt-oss checkpoints store it, quantized here: `weight` in
    transformers' layout [experts, in, out] -> uint8 blocks [experts, out, in / 32, 16] (two
    e2m1 codes a byte, the even element in the low 4 bits) and uint8 scales [experts, out,
    in / 32]: each group of 32 inputs shares the power of two 2^(scale - 127) that puts its
    largest value in e2m1's top binade (floor(log2(max)) - 2: 6 is 1.5 x 2^2), each value the
    nearest e2m1 value of it over that power (clamped to +-6)."""
    rows = weight.transpose(1, 2).float()  # [experts, out, in]
    experts, out, width = rows.shape
    groups = rows.reshape(experts, out, width // 32, 32)
    top = groups.abs().amax(-1)
    exponent = torch.where(top > 0, torch.floor(torch.log2(top.clamp_min(2.0 ** -126))) - 2,
                           torch.full_like(top, -127)).clamp(-127, 127)
    scaled = (groups / torch.exp2(exponent).unsqueeze(-1)).clamp(-6, 6)
    codes = (scaled.unsqueeze(-1) - E2M1).abs().argmin(-1)  # the nearest value's code
    codes = torch.where((scaled < 0) & (codes == 0), 8, codes).to(torch.uint8)
    blocks = codes[..., 0::2] | (codes[..., 1::2] << 4)
    return blocks.contiguous(), (exponent + 127).to(torch.uint8)


MXFP4_CONFIG = {"modules_to_not_convert": ["model.layers.*.self_attn",
                                           "model.layers.*.mlp.router", "model.embed_tokens",
                                           "lm_head"], "quant_method": "mxfp4"}


def write_mxfp4_checkpoint(model, folder, with_tokenizer=None) -> dict[str, torch.Tensor]:
    """A checkpoint as openai publishes gpt-oss: the experts' weights in MXFP4 (blocks and
    scales), everything else (the experts' biases too) in full precision, a quantization_config
    in config.json; two shards with an index, one block split across them. Returns the state
    transformers' dequantization gives, the expected model's."""
    from transformers.integrations.mxfp4 import convert_moe_packed_tensors

    folder.mkdir(parents=True)
    model.config.save_pretrained(folder)
    raw = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**raw, "quantization_config": MXFP4_CONFIG}))
    if with_tokenizer is not None:
        with_tokenizer.save_pretrained(folder)
    state, dequantized = {}, {}
    for key, tensor in model.state_dict().items():
        if key.endswith(("mlp.experts.gate_up_proj", "mlp.experts.down_proj")):
            blocks, scales = quantize_mxfp4(tensor)
            state[f"{key}_blocks"], state[f"{key}_scales"] = blocks, scales
            dequantized[key] = convert_moe_packed_tensors(blocks, scales, dtype=torch.bfloat16)
        else:
            state[key] = dequantized[key] = tensor.detach().clone()
    second = [k for k in state if k.startswith(("model.layers.2.", "model.layers.3.", "lm_head"))
              or k.startswith("model.layers.1.mlp.experts.down_proj")]
    shards = {"model-00001-of-00002.safetensors": [k for k in state if k not in second],
              "model-00002-of-00002.safetensors": second}
    for shard, keys in shards.items():
        save_file({k: state[k].contiguous() for k in keys}, str(folder / shard),
                  metadata={"format": "pt"})
    (folder / "model.safetensors.index.json").write_text(json.dumps({
        "metadata": {}, "weight_map": {k: s for s, keys in shards.items() for k in keys}}))
    return dequantized


def test_mxfp4_dequantization_is_transformers_bit_for_bit():
    """prunebench's dequantization (no triton, no GPU) gives exactly what transformers'
    `convert_moe_packed_tensors` gives, in its unquantized layout: on every byte and scales
    over a wide range, and on weights quantized by the test's own MXFP4 quantizer, which
    round-trips them within the format's precision."""
    from transformers.integrations.mxfp4 import convert_moe_packed_tensors

    g = torch.Generator().manual_seed(0)
    blocks = torch.randint(0, 256, (3, 10, 4, 16), dtype=torch.uint8, generator=g)
    blocks[0, 0, 0] = torch.arange(16, dtype=torch.uint8) * 17  # each code in both nibbles
    scales = torch.randint(90, 165, (3, 10, 4), dtype=torch.uint8, generator=g)
    theirs = convert_moe_packed_tensors(blocks, scales, dtype=torch.bfloat16)
    ours = moe_fuse.dequantize_mxfp4(blocks, scales)
    assert ours.shape == theirs.shape == (3, 4 * 32, 10) and ours.dtype == torch.bfloat16
    assert torch.equal(ours, theirs)
    assert torch.equal(moe_fuse.dequantize_mxfp4(blocks, scales, torch.float32),
                       convert_moe_packed_tensors(blocks, scales, dtype=torch.float32))
    weight = torch.randn(2, 64, 48, generator=g) * 0.1  # [experts, in, out]
    blocks, scales = quantize_mxfp4(weight)
    assert blocks.shape == (2, 48, 2, 16) and scales.shape == (2, 48, 2)
    back = moe_fuse.dequantize_mxfp4(blocks, scales, torch.float32)
    assert torch.equal(back, convert_moe_packed_tensors(blocks, scales, dtype=torch.float32))
    # Within two of each group's power of two (the format clamps a value over 6 of them, up
    # to 8, to 6; e2m1's widest gap below is 2, half of it the worst rounding), and not the
    # weight itself.
    step = torch.exp2(scales.float() - 127).repeat_interleave(32, -1).transpose(1, 2)
    assert ((back - weight).abs() <= 2 * step).all() and not torch.equal(back, weight)
    with pytest.raises(PrunebenchError, match="expected uint8 blocks"):
        moe_fuse.dequantize_mxfp4(blocks.float(), scales)


def test_an_mxfp4_gpt_oss_checkpoint_is_dequantized_once_on_import_as_transformers_runs_it(
        tmp_path, request, monkeypatch):
    """openai's MXFP4 experts: refused as they are (with the way to use them), dequantized
    once on import to bfloat16 in transformers' unquantized layout, the quantization_config
    taken out of config.json (kept in the record, the config.json it was in hashed as a
    source); the model computes what transformers' own model of the dequantized weights does
    and what transformers' loading of the MXFP4 folder (dequantized, no triton) does. A
    conversion killed before config.json was rewritten is finished by the next run."""
    model = family_model("gpt_oss")
    expected_state = write_mxfp4_checkpoint(model, tmp_path / "hub",
                                            request.getfixturevalue("tokenizer"))
    raw_copy = tmp_path / "raw"
    shutil.copytree(tmp_path / "hub", raw_copy)
    write_manifest(raw_copy)
    with pytest.raises(PrunebenchError, match="MXFP4 experts.*dequantizes them once"):
        load_model(raw_copy)
    from prunebench.checkpoint.param_count import checkpoint_config
    # what `prunebench plan` and the start read of a folder to import: counted as it will be
    assert count_params(checkpoint_config(raw_copy)) == numel(model)

    out = import_local(f"local:{tmp_path / 'hub'}", tmp_path / "imported")
    raw = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in raw
    record = json.loads((out / moe_fuse.RECORD).read_text())
    assert record["dequantized_from"] == "mxfp4"
    assert record["quantization_config"] == MXFP4_CONFIG
    assert record["experts_per_block"] == {f"model.layers.{i}": 4 for i in range(4)}
    assert set(record["source_sha256"]) == {*record["fused_from"], "config.json"}
    manifest = json.loads((out / "prunebench.json").read_text())
    assert moe_fuse.RECORD in manifest["files_sha256"]
    assert set(manifest["imported_sha256"]) == {*record["fused_from"], "config.json"}
    assert not list(out.glob("model-0000*.safetensors"))
    stored = load_file(next(out.glob("model-fused-00001-*.safetensors")))
    assert stored["model.layers.0.mlp.experts.gate_up_proj"].dtype == torch.bfloat16
    assert not any(k.endswith(("_blocks", "_scales")) for k in stored)

    ours = load_model(out)
    assert numel(ours) == count_params(ours.config) == numel(model)
    for key, tensor in ours.state_dict().items():
        assert torch.equal(tensor, expected_state[key].float()), key
    # transformers' own model of transformers' dequantization of the same blocks and scales
    from transformers import GptOssForCausalLM

    theirs = GptOssForCausalLM(copy.deepcopy(model.config)).eval()
    theirs.load_state_dict({k: v.float() for k, v in expected_state.items()})
    x = ids()
    assert torch.equal(logits(ours, x), logits(theirs, x))
    assert not torch.equal(logits(ours, x), logits(model, x))  # quantized: not the original
    # transformers' loading of the MXFP4 folder itself (dequantized on a CPU without triton):
    # the same weights; the same logits where it dequantizes into the dtype asked for (5.2x;
    # 5.17 keeps the experts in bfloat16, and computes them so)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "hub", dtype=torch.float32).eval()
    mine = ours.state_dict()
    for key, tensor in loaded.state_dict().items():
        assert torch.equal(tensor.float(), mine[key]), key
    if all(p.dtype == torch.float32 for p in loaded.parameters()):
        assert torch.equal(logits(ours, x), logits(loaded, x))
    # transformers reads the converted checkpoint as a plain gpt-oss one
    again = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    assert torch.equal(logits(again, x), logits(ours, x))

    # Killed after the index named the bfloat16 shards, before config.json lost its entry.
    write_mxfp4_checkpoint(model, tmp_path / "killed")
    with monkeypatch.context() as patch:
        real = moe_fuse._finish_config
        calls = []

        def dies_once(folder):
            calls.append(folder)
            if moe_fuse.finished(folder):
                raise KeyboardInterrupt
            real(folder)

        patch.setattr(moe_fuse, "_finish_config", dies_once)
        with pytest.raises(KeyboardInterrupt):
            moe_fuse.fuse_experts(tmp_path / "killed")
    assert "quantization_config" in json.loads((tmp_path / "killed" / "config.json").read_text())
    assert moe_fuse.finished(tmp_path / "killed")
    assert not moe_fuse.fuse_experts(tmp_path / "killed")  # nothing converted again
    assert "quantization_config" not in json.loads(
        (tmp_path / "killed" / "config.json").read_text())
    assert not list((tmp_path / "killed").glob("model-0000*.safetensors"))
    write_manifest(tmp_path / "killed")
    assert torch.equal(logits(load_model(tmp_path / "killed"), x), logits(ours, x))


def test_gpt_oss_refuses_incomplete_mxfp4_experts_and_an_unquantized_config(tmp_path):
    model = family_model("gpt_oss")
    write_mxfp4_checkpoint(model, tmp_path / "m")
    index = tmp_path / "m" / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    gone = "model.layers.1.mlp.experts.down_proj_scales"
    shard = tmp_path / "m" / data["weight_map"].pop(gone)
    state = load_file(shard)
    del state[gone]
    save_file(state, str(shard))
    index.write_text(json.dumps(data))
    with pytest.raises(PrunebenchError, match=r"layers\.1: .*MXFP4 experts are incomplete"):
        moe_fuse.fuse_experts(tmp_path / "m")
    write_mxfp4_checkpoint(model, tmp_path / "n")
    raw = json.loads((tmp_path / "n" / "config.json").read_text())
    del raw["quantization_config"]
    (tmp_path / "n" / "config.json").write_text(json.dumps(raw))
    with pytest.raises(PrunebenchError, match="MXFP4 experts .* quantization_config is None"):
        moe_fuse.fuse_experts(tmp_path / "n")
    write_manifest(tmp_path / "n")
    with pytest.raises(PrunebenchError, match="in MXFP4 .*download or an import makes once"):
        load_model(tmp_path / "n")
    for folder in ("m", "n"):  # nothing changed
        assert not (tmp_path / folder / moe_fuse.RECORD).exists()
        assert len(list(tmp_path.glob(f"{folder}/model-0000*.safetensors"))) == 2


def test_gpt_oss_depth_pruning_keeps_each_kept_blocks_sinks_biases_and_layer_type(tmp_path):
    """Removing blocks keeps every other block's own sinks, q/k/v/o biases, router bias and
    experts' biases, and its own attention kind (sliding window or full: `layer_types` loses
    the removed blocks' entries), through saving and reloading; the pruned checkpoint is what
    transformers builds from it. The sinks and the windows change this model's logits (else
    their survival would go untested)."""
    model = family_model("gpt_oss")
    assert model.config.layer_types == ["sliding_attention", "full_attention"] * 2
    x = ids(2, 16)  # longer than the window of 6
    with torch.no_grad():
        sinkless = copy.deepcopy(model)
        for layer in sinkless.model.layers:
            layer.self_attn.sinks.fill_(-1e4)  # a sink that takes no probability
        assert (logits(sinkless, x) - logits(model, x)).abs().max() > 1e-3
    unwindowed = copy.deepcopy(model)
    unwindowed.config.layer_types = ["full_attention"] * 4
    for layer in unwindowed.model.layers:
        layer.self_attn.sliding_window = None
    assert (logits(unwindowed, x) - logits(model, x)).abs().max() > 1e-3

    own = ("self_attn.sinks", "self_attn.q_proj.bias", "self_attn.k_proj.bias",
           "self_attn.v_proj.bias", "self_attn.o_proj.bias", "mlp.router.bias",
           "mlp.experts.gate_up_proj_bias", "mlp.experts.down_proj_bias")
    save_model(model, None, tmp_path / "dense")
    for removed in ([0], [1, 2]):
        pruned = remove_blocks(load_model(tmp_path / "dense"), removed)
        save_model(pruned, None, tmp_path / f"p{removed}")
        reloaded = load_model(tmp_path / f"p{removed}")
        kept = [i for i in range(4) if i not in removed]
        assert reloaded.config.layer_types == [model.config.layer_types[i] for i in kept]
        for new, old in enumerate(kept):
            ours, theirs = reloaded.model.layers[new], model.model.layers[old]
            mine = dict(ours.named_parameters())
            for name in own:
                assert torch.equal(mine[name], dict(theirs.named_parameters())[name]), name
            assert ours.self_attn.sliding_window == (6 if old % 2 == 0 else None)
        assert numel(reloaded) == count_params(reloaded.config)
        transformers_own = AutoModelForCausalLM.from_pretrained(
            tmp_path / f"p{removed}", dtype=torch.float32).eval()
        assert transformers_own.config.layer_types == reloaded.config.layer_types
        assert torch.equal(logits(reloaded, x), logits(transformers_own, x))
        assert torch.equal(logits(reloaded, x), logits(pruned, x))


def test_gpt_oss_sinks_run_with_eager_attention_only():
    """transformers' SDPA attention drops the sinks without a word (and its fallback would set
    it): the benchmarks' auto attention picks matmul + softmax for gpt-oss, an SDPA setting is
    refused, and the start says so for a hub id naming it."""
    from prunebench.benchmark.attention import resolve_attention, set_hf_attention
    from prunebench.plan.checks import softcap_attention_problems

    model = family_model("gpt_oss")
    assert model.config._attn_implementation == "eager"
    assert resolve_attention("auto", torch.device("cpu"), model) == "eager"
    for attention in ("sdpa", "math", "flash-efficient"):
        with pytest.raises(PrunebenchError, match="sink logit per head.*set the benchmark's "
                                                  "attention to eager"):
            set_hf_attention(model, attention)
    assert set_hf_attention(model, "eager") == "eager"
    config = {"models": {"m": {"source": "hf:openai/gpt-oss-120b", "variants": []}},
              "benchmark": {"attention": "sdpa"}}
    problem, = softcap_attention_problems(config, "nowhere")
    assert "model m (gpt_oss)" in problem and "sink logit" in problem
    config["benchmark"]["attention"] = "auto"
    assert softcap_attention_problems(config, "nowhere") == []
