"""Exact parameter counts from the config alone (meta device, no weights)."""
import json

import pytest
import torch
from transformers import LlamaConfig

from prunebench import PrunebenchError
from prunebench.checkpoint.architectures import architecture_config
from prunebench.checkpoint.param_count import (FAMILIES, config_from_dict, head_dim, qkv_bias,
                                               tied_embeddings)
from prunebench.methods.depth import solve_num_blocks
from prunebench.modeling import (block_param_count, build_model, count_params, count_params_meta,
                                 layer_shapes, remove_blocks)
from prunebench.plan.sizes import format_params, parse_size, parse_size_spec


def test_llama_7b_counts_match_the_study():
    config = architecture_config("llama-7b")
    assert count_params(config) == 6_738_415_616
    assert count_params_meta(config) == 6_738_415_616
    assert block_param_count(config, layer_shapes(config)[0]) == 202_383_360


def test_removing_nine_llama_7b_blocks_gives_4_917b():
    model = build_model(architecture_config("llama-7b"))  # meta: nothing allocated
    remove_blocks(model, list(range(9, 18)))
    assert count_params(model.config) == 4_916_965_376
    assert sum(p.numel() for p in model.parameters()) == 4_916_965_376


def test_vicuna_13b_counts_and_solved_depth():
    config = architecture_config("vicuna-13b")
    assert count_params(config) == 13_015_864_320
    assert block_param_count(config, layer_shapes(config)[0]) == 317_204_480
    k = solve_num_blocks(config, parse_size("9.5B", count_params(config)), list(range(40)))
    assert k == 11


def test_solved_depth_for_llama_7b_sizes():
    config = architecture_config("llama-7b")
    dense = count_params(config)
    assert [solve_num_blocks(config, parse_size(s, dense), list(range(32)))
            for s in ("5.5B", "4.9B", "4.5B")] == [6, 9, 11]


def test_closed_form_matches_meta_for_heterogeneous_shapes():
    config = LlamaConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=50)
    config.layer_shapes = [
        {"num_attention_heads": 2, "num_key_value_heads": 1, "intermediate_size": 10,
         "o_proj_bias": True, "down_proj_bias": True},
        {"num_attention_heads": 0, "num_key_value_heads": 0, "intermediate_size": 0,
         "o_proj_bias": True, "down_proj_bias": False},
        {},
    ]
    assert count_params(config) == count_params_meta(config)


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_a_config_read_without_transformers_takes_its_familys_defaults(model_type):
    """`prunebench plan` reads a config.json without transformers (config_from_dict): a key
    the file leaves out must take the value its family's transformers config class gives it, or
    the plan would size another model than the one the prune builds."""
    from prunebench.checkpoint.param_count import CONFIG_DEFAULTS, transformers_release_problem
    from prunebench.modeling import config_class, model_wide_readable

    assert model_type in CONFIG_DEFAULTS  # else it would count with LLaMA's defaults
    if problem := transformers_release_problem(model_type):  # (EXAONE's, InternLM3's class:
        pytest.skip(problem)  # newer than this transformers, the floor's 5.17)

    def counted(config):  # what the counts, the plans (layer_shapes: heads, MLP, biases) and
        # the start's context check read (Gemma 4's head_dim is each block's: layer_shapes)
        return (config.vocab_size, config.hidden_size, config.num_hidden_layers,
                tied_embeddings(config),  # (ErgoConfig has no tie_word_embeddings)
                None if FAMILIES[model_type].per_layer_blocks
                or FAMILIES[model_type].mamba_stack  # (Mamba, xLSTM: no heads)
                or FAMILIES[model_type].mlstm_blocks  # (RWKV: no heads either)
                or FAMILIES[model_type].rwkv_blocks else head_dim(config),
                qkv_bias(config),
                # (BLOOM and MPT have none: ALiBi, MPT's max_seq_len unread by the checks)
                layer_shapes(config), getattr(config, "max_position_embeddings", None),
                getattr(config, "attn_logit_softcapping", None))  # the attention check's

    # Shapes every family accepts: Qwen's default is 32 KV heads, so 32 query heads here.
    for values in ({}, {"hidden_size": 256, "num_attention_heads": 32, "num_hidden_layers": 3},
                   {"hidden_size": 256, "num_attention_heads": 8, "num_key_value_heads": 2,
                    "tie_word_embeddings": True, "attention_bias": True, "mlp_bias": True}):
        if model_type == "nemotron":  # NemotronConfig leaves the KV heads None, which
            # transformers cannot build (a config.json without them is refused when read)
            values = {"num_key_value_heads": values.get("num_attention_heads", 48), **values}
        if model_type == "nemotron_h":  # NemotronHConfig's default blocks hold experts, and
            # its class ties nothing: both refused when read (a pattern of the others here)
            values = {"hybrid_override_pattern": "M-M*-",
                      **{k: v for k, v in values.items() if k != "tie_word_embeddings"}}
        if model_type == "dots1":  # Dots1Config leaves its experts None, which transformers
            # cannot build (a config.json without them is refused when read)
            values = {"n_routed_experts": 8, "n_shared_experts": 2, "num_experts_per_tok": 2,
                      **values}
        if model_type == "lfm2_moe":  # Lfm2MoeConfig derives no layer_types, which
            # transformers cannot build (a config.json without them is refused when read)
            blocks = values.get("num_hidden_layers", 32)
            values = {"layer_types": ["conv", "full_attention"] * (blocks // 2)
                      + ["conv"] * (blocks % 2), **values}
        if model_type == "gpt_neo" and "num_hidden_layers" in values:  # GPTNeoConfig's default
            # attention_types are 24 blocks', another block count refused (so is config.json)
            kinds = ["global", "local"] * values["num_hidden_layers"]
            values = {"attention_types": [[kinds[:values["num_hidden_layers"]], 1]], **values}
        if model_type == "gemma3n_text" and "num_hidden_layers" in values:  # its default 15
            # blocks reusing keys need more blocks before them (so does config.json)
            values = {"num_kv_shared_layers": 0, **values}
        if model_type == "zamba2" and "num_hidden_layers" in values:  # Zamba2Config's default
            # layers_block_type is 54 blocks', another block count refused (so is config.json)
            values = {"layers_block_type": ["mamba", "hybrid", "mamba"], **values}
        if model_type == "dbrx":  # DbrxConfig refuses a tied LM head (so is config.json)
            values = {k: v for k, v in values.items() if k != "tie_word_embeddings"}
        if model_type == "mamba2" and "hidden_size" in values:  # Mamba2Config refuses heads
            # that do not fill the inner width, expand x hidden (so is config.json)
            values = {"num_heads": 2 * values["hidden_size"] // 64, **values}
        if model_type == "kolibri1_1" and "num_attention_heads" in values:  # Kolibri1_1Config
            # refuses more indexer heads (12) than a KV head's queries (so is config.json)
            values = {"index_num_heads": 1, **values}
        if model_type == "qwen4_exp_text":  # Qwen4ExpTextConfig's default indexer keys are
            # None, which transformers cannot build (a config.json without them is refused
            # when read)
            values = {"indexer_n_heads": 2, "indexer_kv_heads": 1, "indexer_head_dim": 256,
                      "indexer_budget": 64, "indexer_compress_ratio": 4, **values}
        if model_type == "dots3_note_text" and "num_attention_heads" in values:
            # Dots3NoteTextConfig refuses KV heads other than the heads (so is config.json)
            values = {**values, "num_key_value_heads": values["num_attention_heads"]}
        ours = config_from_dict({"model_type": model_type, **values})
        # (Dots 3 Note's model-wide values read as prunebench's configs read them)
        theirs = model_wide_readable(config_class(model_type)(**values))
        assert counted(ours) == counted(theirs), values
        assert count_params(ours) == count_params(theirs), values


@pytest.mark.parametrize("text, expected", [("4.9B", 4_900_000_000), ("350M", 350_000_000),
                                            ("0.5", 500), ("0.999", 999), ("800", 800),
                                            ("2K", 2000)])
def test_parse_size(text, expected):
    dense = 1000 if expected <= 1000 else 10_000_000_000
    assert parse_size(text, dense) == expected


@pytest.mark.parametrize("text", ["1", "1.0", "1.00"])
def test_a_size_that_keeps_every_parameter_is_no_pruned_variant(text):
    with pytest.raises(PrunebenchError, match="keeps every parameter, which is the dense model"):
        parse_size(text, 1000)


@pytest.mark.parametrize("text, fraction", [("75", "'0.75'"), ("2", "'0.02'"),
                                            ("100", "such as '0.8'")])
def test_a_whole_number_up_to_100_is_refused_as_a_percentage(text, fraction):
    """`flap-75` meant 75% of the model: as a count of 75 parameters it was refused only
    against a model's size, as 'unreachable: choose a larger target', with no word of the
    fraction form."""
    with pytest.raises(PrunebenchError) as err:
        parse_size_spec(text)
    assert str(err.value) == (
        f"target size {text!r} would be {text} parameters, fewer than any model's embeddings: "
        f"if a percentage was meant, write the fraction of parameters to keep, {fraction}; for "
        f"an absolute size add a suffix, such as '{text}M'")
    assert parse_size_spec("101") == ("count", 101.0)


@pytest.mark.parametrize("text", ["4.9 billion", "-3", "B", "", "1.2.3"])
def test_malformed_sizes_are_refused(text):
    with pytest.raises(PrunebenchError, match="malformed target size"):
        parse_size(text, 10**9)


def test_size_larger_than_the_model_is_refused():
    with pytest.raises(PrunebenchError, match="larger than the model"):
        parse_size("8B", 6_738_415_616)


def test_depth_target_out_of_reach_is_refused():
    config = architecture_config("llama-7b")
    with pytest.raises(PrunebenchError, match="below"):
        solve_num_blocks(config, 100_000_000, list(range(4, 30)))


def test_format_params():
    assert format_params(4_916_965_376) == "4.92B"
    assert format_params(6_738_415_616) == "6.74B"


def test_random_model_carries_a_stand_in_tokenizer(tmp_path, monkeypatch):
    from transformers import PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models, pre_tokenizers

    from prunebench import modeling
    from prunebench.checkpoint import architectures

    monkeypatch.setitem(architectures.ARCHITECTURES, "unit-test", dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, vocab_size=64, max_position_embeddings=64, rms_norm_eps=1e-6))
    tok = Tokenizer(models.WordLevel({"<unk>": 0, "<s>": 1, "</s>": 2, "a": 3}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>",
                                        eos_token="</s>")
    modeling.save_random_model("unit-test", tmp_path / "m", tokenizer=tokenizer, dtype=torch.float32)
    assert modeling.load_tokenizer(tmp_path / "m") is not None
    # CUDA's generator and the CPU's draw different weights from one seed: the device is recorded
    random = json.loads((tmp_path / "m" / modeling.MANIFEST).read_text())["random"]
    assert random["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert modeling.load_model(tmp_path / "m").config.num_hidden_layers == 2
    modeling.save_random_model("unit-test", tmp_path / "bare", dtype=torch.float32)
    assert modeling.load_tokenizer(tmp_path / "bare") is None


def test_a_missing_tokenizer_is_named_with_what_needs_it(tmp_path):
    from prunebench.modeling import require_tokenizer

    (tmp_path / "config.json").write_text('{"model_type": "llama"}')  # a random: model's folder
    with pytest.raises(PrunebenchError, match="no tokenizer files, but perplexity needs them"):
        require_tokenizer(tmp_path, "perplexity")
