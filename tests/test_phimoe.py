"""PhiMoE (phimoe, PhimoeForCausalLM; Phi-3.5-MoE): exact counts with its LayerNorms, attention
and LM head biases; the router that routes at random in training mode scored as it runs; the
code its published config.json names set aside; the batch-1 floor and the known shape
(tests/test_families.py and tests/test_moe.py run the shared per-family and mixture-of-experts
tests on it too: every method pruning or refused, both hf backends, the one-time fusion of its
per-expert checkpoints as transformers loads them)."""

from __future__ import annotations

import itertools
import json
import shutil

import pytest
import torch
from transformers import PhimoeConfig, PhimoeForCausalLM

from prunebench import PrunebenchError
from prunebench.benchmark.floors import weight_bytes
from prunebench.methods.depth_taylor import taylor_scores
from prunebench.modeling import count_params, load_config, load_model, save_model, write_manifest
from test_families import family_model, ids, logits, numel

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**kw) -> PhimoeConfig:
    values = dict(vocab_size=97, hidden_size=48, intermediate_size=40, num_hidden_layers=3,
                  num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
                  num_experts_per_tok=2)
    return PhimoeConfig(**{**values, **kw})


@pytest.mark.parametrize("attention_bias,lm_head_bias,tied",
                         list(itertools.product([False, True], repeat=3)))
def test_counts_equal_transformers_parameters(attention_bias, lm_head_bias, tied):
    config = small(attention_bias=attention_bias, lm_head_bias=lm_head_bias,
                   tie_word_embeddings=tied)
    assert count_params(config) == numel(PhimoeForCausalLM(config))


def test_the_count_is_the_sum_of_each_part_by_hand():
    c = small(attention_bias=True, lm_head_bias=True)
    d, hd, layers = 48, 12, 3
    attention = d * 4 * hd + 2 * d * 2 * hd + 4 * hd * d + (4 * hd + 2 * 2 * hd) + d
    experts = 4 * 3 * d * 40 + 4 * d  # four experts and the router (no bias)
    norms = 2 * 2 * d  # two LayerNorms, each a weight and a bias
    head = 97 * d + 97  # untied, with its bias
    assert count_params(c) == 97 * d + layers * (attention + experts + norms) + 2 * d + head


def test_taylor_scores_route_as_the_model_runs_not_at_random():
    """PhiMoE's sparsemixer samples each token's second expert in training mode, which the
    Taylor+ criterion's backward pass runs in: its scores would change with the random state.
    Scored with the routers in eval mode they are the same under any seed."""
    model = family_model("phimoe")
    x = ids(4, 16, seed=2)
    torch.manual_seed(0)
    first, loss = taylor_scores(model, x, batch_size=4, gradient_checkpointing=False)
    torch.manual_seed(1)
    again, loss_again = taylor_scores(model, x, batch_size=4, gradient_checkpointing=False)
    assert first == again and loss == loss_again
    assert all(not m.training for m in model.modules() if m is not model.model.layers)
    # the loss it scores is the model's own (eval mode) loss
    with torch.no_grad():
        out = model(input_ids=x, labels=x)
    torch.testing.assert_close(torch.tensor(loss), out.loss, rtol=1e-5, atol=1e-6)


def test_the_code_its_published_config_names_is_set_aside_other_code_refused(tmp_path):
    """microsoft/Phi-3.5-MoE-instruct's config.json names its own copies of the family's
    classes (`auto_map`): set aside, transformers' class built; code under other names (the
    SlimMoE models' `modeling_slimmoe`) is refused."""
    folder = tmp_path / "hub"
    save_model(family_model("phimoe"), None, tmp_path / "saved")
    shutil.copytree(tmp_path / "saved", folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "configuration_phimoe.PhiMoEConfig",
                          "AutoModelForCausalLM": "modeling_phimoe.PhiMoEForCausalLM"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_phimoe.py").write_text("raise SystemExit('checkpoint code ran')\n")
    write_manifest(folder)
    model = load_model(folder)
    assert type(model) is PhimoeForCausalLM
    x = ids()
    assert torch.equal(logits(model, x), logits(load_model(tmp_path / "saved"), x))
    config["auto_map"] = {"AutoConfig": "configuration_slimmoe.PhiMoEConfig",
                          "AutoModelForCausalLM": "modeling_slimmoe.PhiMoEForCausalLM"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PrunebenchError, match="with custom code .auto_map"):
        load_config(folder)


def test_the_batch_one_floor_reads_two_experts_the_norms_biases_and_the_head_bias():
    c = small(attention_bias=True, lm_head_bias=True, num_local_experts=6)
    unread = (6 - 2) * 3 * 48 * 40 * 3  # four experts of each of the three blocks
    embeddings = 97 * 48  # not read whole: a step reads its tokens' rows
    assert weight_bytes(c, torch.float32) == 4 * (count_params(c) - unread - embeddings)


def test_phi_3_5_moes_known_shape_counts_its_published_total():
    from prunebench.checkpoint.architectures import (architecture_config, architecture_values,
                                                     known_shape_of)
    from prunebench.checkpoint.param_count import config_from_dict
    from prunebench.modeling import build_model

    config = architecture_config("phi-3.5-moe")
    assert type(config).__name__ == "PhimoeConfig"
    total = 41_873_153_344  # the model card's 41.9B
    assert count_params(config) == total == numel(build_model(config, device="meta"))
    assert count_params(config_from_dict(architecture_values("phi-3.5-moe"))) == total
    # the model card's 6.6B active parameters are these and the embeddings' 131,334,144
    assert weight_bytes(config, "bfloat16") == 2 * 6_509_665_600
    assert known_shape_of("microsoft/Phi-3.5-MoE-instruct") == "phi-3.5-moe"
