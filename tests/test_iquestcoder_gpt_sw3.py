"""IQuest-Coder (iquestcoder: IQuestLab's IQuest-Coder-V1, IQuestCoderConfig, transformers 5.23
on: Family.min_transformers) and GPT-SW3 (gpt-sw3: AI Sweden's, GPT2Config in every release),
two model types transformers builds with a class prunebench supports: LlamaForCausalLM and
GPT2LMHeadModel.

IQuest-Coder: on an older transformers (make test-floor's 5.17; on a newer one the release is
faked) its config.json is read and counted without a class and building it is refused naming
the upgrade; its head_dim of 128 where config.json leaves it out (not hidden / heads), as
IQuestCoderConfig reads it; its own code's clip_qkv and sliding window refused unless off, as
IQuestCoderConfig refuses them (the Llama class does neither). Where the class exists: counts
against transformers' model, prunebench's model computing transformers' logits, the published
keys (auto_map, the clamp and window off) read as the class reads them, depth pruning equal to
transformers' model of the kept blocks, head and channel removal equal to transformers' model
of those widths, the compiled decoder as transformers' logits and generate.

GPT-SW3: a config.json of model_type "gpt-sw3" is read as GPT-2's (READ_AS_TYPE), as
transformers' AutoConfig reads it (GPT2Config) and as its saves write it ("gpt2"): counted,
loaded to the logits of transformers' own model of the folder, saved as GPT-2 and reloaded by
transformers; without the reading it is refused as a type prunebench lacks. tests/
test_families.py runs the shared per-family tests on IQuest-Coder and GPT-2 (every method,
save and reload, every backend, evaluation, LoRA)."""

from __future__ import annotations

import json
import re

import pytest
import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

from prunebench import FamilyUnsupported, PrunebenchError
from prunebench.checkpoint import param_count
from prunebench.checkpoint.param_count import (checked_config_json, config_from_dict,
                                               head_dim, transformers_release_problem)
from prunebench.modeling import count_params, count_params_meta, load_config, load_model
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does, width_pruned
from block_helpers import prune_every_block_uniformly, sliced_state
from test_exaone_internlm3 import needs, read_as_its_class_reads_it, small, write
from test_families import family_model, ids, logits, numel
from test_gpt_neox import without_blocks_1_and_2_is

pytestmark = pytest.mark.usefixtures("one_thread")

# IQuest-Coder's config.json keys beyond LLaMA's as the published files give them (a public
# loader's notes: clip_qkv null, use_sliding_window false, sliding_window null,
# max_window_layers 0; the code its auto_map names), on a tiny shape. No whole published
# config.json was found here, so no known shape.
IQUEST_TINY = {"model_type": "iquestcoder", "architectures": ["IQuestCoderForCausalLM"],
               "auto_map": {"AutoConfig": "configuration_iquestcoder.IQuestCoderConfig",
                            "AutoModelForCausalLM":
                                "modeling_iquestcoder.IQuestCoderForCausalLM"},
               "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 3,
               "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128,
               "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "clip_qkv": None,
               "use_sliding_window": False, "sliding_window": None, "max_window_layers": 0,
               "tie_word_embeddings": False}


# ------------------------------------------------------------ IQuest-Coder: the release

def test_iquestcoder_on_an_older_transformers_is_refused_naming_the_upgrade(tmp_path,
                                                                          monkeypatch):
    """Below 5.23 (the floor's 5.17 really, else faked): every way to build it is refused
    naming both releases and the upgrade; its config.json is counted all the same. 5.23.0
    itself builds it, 5.22.9 does not; the installed transformers has the class exactly
    where no refusal is given."""
    from prunebench.commands.model_source import resolve_model
    from prunebench.modeling import config_class

    assert hasattr(transformers, "IQuestCoderConfig") == (
        transformers_release_problem("iquestcoder") is None)
    installed = param_count.installed_transformers()
    if transformers_release_problem("iquestcoder") is None:
        installed = "5.17.0"
        for namespace in (param_count, param_count.releases, param_count.prune_rules):
            monkeypatch.setattr(namespace, "installed_transformers", lambda: installed)
    words = (rf"model_type 'iquestcoder' needs transformers 5\.23\.0 or newer .*"
             rf"transformers {re.escape(installed)}: upgrade it "
             r"\(`pip install -U \"transformers>=5\.23\.0\"`\)")
    folder = write(tmp_path / "model", IQUEST_TINY)
    for builds in (lambda: config_class("iquestcoder"), lambda: load_config(folder),
                   lambda: load_model(folder), lambda: resolve_model(str(folder))):
        with pytest.raises(FamilyUnsupported, match=words):
            builds()
    assert count_params(config_from_dict(checked_config_json(folder))) > 0
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.23.0")
    assert transformers_release_problem("iquestcoder") is None
    for namespace in (param_count, param_count.releases, param_count.prune_rules):
        monkeypatch.setattr(namespace, "installed_transformers", lambda: "5.22.9")
    assert transformers_release_problem("iquestcoder") is not None


# --------------------------------------------- IQuest-Coder: its keys, read without a class

def test_iquestcoders_head_dim_is_128_where_config_json_leaves_it_out():
    """IQuestCoderConfig's head_dim is 128 whatever hidden / heads (LlamaConfig's: hidden /
    heads): a file without head_dim is counted with 128-wide heads, as transformers builds it
    where it exists, and LLaMA's reading of the same file (16) counts another model."""
    left_out = {k: v for k, v in IQUEST_TINY.items() if k != "head_dim"}
    assert head_dim(config_from_dict(left_out)) == 128
    assert head_dim(config_from_dict({**left_out, "model_type": "llama"})) == 16
    d, v, m, q, kv = 64, 128, 128, 4 * 128, 2 * 128
    block = d * q + 2 * d * kv + q * d + 3 * d * m + 2 * d
    assert count_params(config_from_dict(left_out)) == 2 * v * d + 3 * block + d
    if transformers_release_problem("iquestcoder") is None:
        values = {k: v for k, v in left_out.items() if k not in ("model_type", "auto_map")}
        theirs = transformers.IQuestCoderConfig(**values)
        assert theirs.head_dim == 128
        assert numel(AutoModelForCausalLM.from_config(theirs)) == count_params(
            config_from_dict(left_out))


@pytest.mark.parametrize("key, value, says", [("clip_qkv", 8.0, "clamps q, k and v"),
                                              ("use_sliding_window", True,
                                               "windows the attention")])
def test_iquestcoders_clamp_and_window_are_refused_unless_off(key, value, says, tmp_path):
    """IQuest-Coder's own code clamps q/k/v (clip_qkv) and windows the attention
    (use_sliding_window), which transformers' Llama class does not: a config.json turning
    either on is refused when read (no class needed), as IQuestCoderConfig refuses it where
    it exists; null / false, as published, are read (IQUEST_TINY gives them)."""
    assert checked_config_json(write(tmp_path / "off", IQUEST_TINY))["clip_qkv"] is None
    folder = write(tmp_path / "on", {**IQUEST_TINY, key: value})
    with pytest.raises(PrunebenchError, match=rf"gives {key}={value!r} for an IQuest-Coder "
                       rf"model: its own code {says}.*gives {key} "):
        checked_config_json(folder)
    if transformers_release_problem("iquestcoder") is None:
        with pytest.raises(Exception, match=f"IQuestCoder does not support `{key}`"):
            transformers.IQuestCoderConfig(**{key: value})


# ------------------------------------------- IQuest-Coder: against transformers' classes

@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("tied", [False, True])
def test_iquestcoder_counts_equal_transformers_parameters(bias, tied):
    """Biases on the four attention projections and the MLP, tied or not: transformers' model
    (LlamaForCausalLM, its auto mapping's), the meta count, the closed form and config.json's
    values alone agree."""
    config = small("iquestcoder", tie_word_embeddings=tied, attention_bias=bias, mlp_bias=bias)
    model = AutoModelForCausalLM.from_config(config)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert (model.model.layers[0].self_attn.o_proj.bias is not None) == bias
    assert count_params(config) == count_params_meta(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


def test_iquestcoders_model_is_transformers_model():
    """The family tests' model (built by prunebench) computes what transformers' own class for
    the type computes with its weights."""
    model = family_model("iquestcoder")
    theirs = AutoModelForCausalLM.from_config(model.config).eval()
    theirs.load_state_dict(model.state_dict())
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(theirs, x), rtol=0, atol=1e-5)


def test_iquestcoders_published_keys_are_read_as_its_class_reads_them(tmp_path):
    """A config.json in the published keys (the code its auto_map names set aside; the clamp
    and window off; head_dim left out) read by prunebench gives transformers' config of the
    same file, counted alike, and builds transformers' class."""
    from prunebench.modeling import build_model

    needs("iquestcoder")
    ours = read_as_its_class_reads_it(write(tmp_path, IQUEST_TINY), IQUEST_TINY)
    assert ours.head_dim == 128
    assert type(build_model(ours, device="cpu")).__name__ == "LlamaForCausalLM"


def test_iquestcoder_depth_pruning_is_transformers_model_of_the_kept_blocks(tmp_path):
    """Blocks 1 and 2 removed: transformers' model of two blocks, given blocks 0 and 3,
    computes the same logits; saved, it reloads by prunebench and transformers' class."""
    without_blocks_1_and_2_is(
        family_model("iquestcoder"), "model.layers",
        AutoModelForCausalLM.from_config(small("iquestcoder", num_hidden_layers=2)), tmp_path)


def test_iquestcoder_width_pruned_is_transformers_model_of_its_widths():
    """Every block loses KV group 0 and MLP channels 3..34: prunebench's model computes what
    transformers' model of 2 query heads on 1 KV head and 96 channels computes given the
    rows and columns the test keeps itself."""
    model = family_model("iquestcoder")
    original, q_rows, kv_rows, keep = prune_every_block_uniformly(model, list(range(3, 35)), 16)
    state = sliced_state(original, rows={"q_proj": q_rows, "k_proj": kv_rows, "v_proj": kv_rows,
                                         "gate_proj": keep, "up_proj": keep},
                         columns={"o_proj": q_rows, "down_proj": keep})
    reference = AutoModelForCausalLM.from_config(small(
        "iquestcoder", num_attention_heads=2, num_key_value_heads=1, head_dim=16,
        intermediate_size=96)).eval()
    reference.load_state_dict(state)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-5)
    assert numel(model) == numel(reference) == count_params(model.config)


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_iquestcoder(fuse):
    decoder_gives_transformers_logits(width_pruned(family_model("iquestcoder")), fuse)


def test_the_compiled_decoder_decodes_iquestcoder_as_generate_does():
    decodes_as_generate_does(width_pruned(family_model("iquestcoder")))


# ------------------------------------------------------------------------------ GPT-SW3

def gpt_sw3_folder(folder):
    """The family tests' GPT-2 saved as transformers holds it (its Conv1D weights: save_model),
    its config.json naming model_type "gpt-sw3" as GPT-SW3's may."""
    from prunebench.modeling import save_model

    model = family_model("gpt2")
    save_model(model, None, folder)
    values = json.loads((folder / "config.json").read_text())
    write(folder, {**values, "model_type": "gpt-sw3"})
    return model


def test_gpt_sw3s_model_type_is_read_as_transformers_reads_it(tmp_path):
    """transformers reads a "gpt-sw3" config.json with GPT2Config (AutoConfig's alias, 5.17
    and 5.25) and builds GPT2LMHeadModel: prunebench reads it as GPT-2's, counts it as
    transformers' model of the folder holds, and loads it to that model's logits."""
    model = gpt_sw3_folder(tmp_path)
    assert type(AutoConfig.from_pretrained(tmp_path)).__name__ == "GPT2Config"
    theirs = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
    assert type(theirs).__name__ == "GPT2LMHeadModel"
    assert checked_config_json(tmp_path)["model_type"] == "gpt2"
    values = json.loads((tmp_path / "config.json").read_text())
    assert count_params(config_from_dict(values)) == numel(theirs) == numel(model)
    ours = load_model(tmp_path, verify=False)
    assert ours.config.model_type == "gpt2"  # (every GPT-2 table applies: Conv1D, names)
    x = ids()
    torch.testing.assert_close(logits(ours, x), logits(theirs, x), rtol=0, atol=1e-5)


def test_a_gpt_sw3_model_saved_by_prunebench_is_gpt2_for_transformers(tmp_path):
    """prunebench's save of a "gpt-sw3" model writes model_type "gpt2", as transformers' save
    of GPT2Config does, and transformers loads it to the same logits."""
    from prunebench.modeling import save_model

    gpt_sw3_folder(tmp_path / "published")
    ours = load_model(tmp_path / "published", verify=False)
    save_model(ours, None, tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "config.json").read_text())["model_type"] == "gpt2"
    theirs = AutoModelForCausalLM.from_pretrained(tmp_path / "saved", dtype=torch.float32)
    x = ids()
    torch.testing.assert_close(logits(theirs.eval(), x), logits(ours, x), rtol=0, atol=1e-5)


def test_without_the_reading_gpt_sw3_is_a_type_prunebench_lacks(tmp_path, monkeypatch):
    """The reading matters: without it (READ_AS_TYPE empty) the folder is refused as a model
    type prunebench does not build, when read and when counted."""
    gpt_sw3_folder(tmp_path)
    values = json.loads((tmp_path / "config.json").read_text())
    assert count_params(config_from_dict(values)) > 0
    for namespace in (param_count, param_count.config_dict):
        monkeypatch.setattr(namespace, "READ_AS_TYPE", {})
    with pytest.raises(PrunebenchError, match="describes model_type 'gpt-sw3'"):
        checked_config_json(tmp_path)
    with pytest.raises(PrunebenchError, match="model_type 'gpt-sw3' is not supported"):
        count_params(config_from_dict(values))
