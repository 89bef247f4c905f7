"""Apertus 1.5's language model (apertus1p5_text: Apertus1p5TextForCausalLM, transformers 5.24
on, Family.min_transformers): Apertus's blocks (tests/test_families.py's shared tests run every
method on it) under an input vocabulary wider than its LM head, whose `output_vocab_size` rows
are the first ids' (the released checkpoints score the text tokens alone; the visual and audio
codes past them are read, never generated): Family.head_vocab_key, param_count.lm_head_rows.

On a transformers older than 5.24 (make test-floor's 5.17; faked on a newer one) building it
is refused naming the upgrade, its config.json read and counted all the same. Where the class
exists: counts against transformers' models over the head's width, tying and biases (a
narrower head counted, the tied head the whole embedding whatever the key says); prunebench's
model computing transformers' logits of the head's width, media ids read; depth pruning equal
to transformers' model of the kept blocks, reloaded by both; a uniform head and channel prune
equal to transformers' model of those widths; the compiled decoder on a width-pruned model,
fused and not, and as generate; perplexity, calibration and zero-shot requests refusing an id
past the head before the loss (or lm-eval's gather) fails on it, and the decode floor reading
the head's rows alone."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from transformers import AutoModelForCausalLM

from prunebench import PrunebenchError
from prunebench.checkpoint import param_count
from prunebench.checkpoint.param_count import (config_from_dict, lm_head_rows,
                                               transformers_release_problem)
from prunebench.modeling import count_params, count_params_meta
from test_cohere import decoder_gives_transformers_logits, decodes_as_generate_does, width_pruned
from block_helpers import prune_every_block_uniformly, sliced_state
from test_exaone_internlm3 import check_refused_below_its_release
from test_families import VOCAB, family_config, family_model, ids, logits, numel
from test_gpt_neox import without_blocks_1_and_2_is

pytestmark = pytest.mark.usefixtures("one_thread")

NAME = "apertus1p5_text"
MEDIA = 32  # the tiny config's input ids past its head's VOCAB rows


def needs() -> None:
    if problem := transformers_release_problem(NAME):
        pytest.skip(problem)


def small(**kw):
    """The family tests' tiny config, with `kw` changed."""
    needs()
    return family_config(NAME, **kw)


def tiny_json(**kw) -> dict:
    return {"model_type": NAME, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
            "vocab_size": VOCAB + MEDIA, "output_vocab_size": VOCAB,
            "max_position_embeddings": 256, **kw}


def test_an_older_transformers_is_refused_before_the_model_loads_naming_the_upgrade(
        tmp_path, monkeypatch):
    """Below 5.24 (the floor's 5.17 really, else faked) every way to build it is refused
    naming the family, both releases and the upgrade; its config.json is counted all the
    same. The installed classes agree with the first release (checked before the fake)."""
    has = hasattr(transformers, param_count.FAMILIES[NAME].config_class)
    assert has == (transformers_release_problem(NAME) is None)
    check_refused_below_its_release(NAME, "5.24.0", tiny_json(), tmp_path, monkeypatch)


def test_the_heads_rows_are_counted_from_config_json_alone():
    """No class needed: the untied head holds output_vocab_size rows (the count is Apertus's
    less the media ids' rows), none of its own where tied, the whole vocabulary where the key
    is left out or null; the decode floor reads the head's rows alone."""
    from prunebench.benchmark.floors import read_params

    narrow = config_from_dict(tiny_json())
    whole = config_from_dict(tiny_json(output_vocab_size=None))
    assert lm_head_rows(narrow) == VOCAB and lm_head_rows(whole) == VOCAB + MEDIA
    assert count_params(whole) - count_params(narrow) == MEDIA * 64
    assert read_params(whole) - read_params(narrow) == MEDIA * 64
    as_apertus = config_from_dict({**tiny_json(), "model_type": "apertus"})
    assert count_params(as_apertus) == count_params(whole)  # the key matters: Apertus's reads none
    tied = config_from_dict(tiny_json(tie_word_embeddings=True))
    assert lm_head_rows(tied) == VOCAB + MEDIA
    assert count_params(tied) == count_params(whole) - (VOCAB + MEDIA) * 64


@pytest.mark.parametrize("rows,tied,bias", [(VOCAB, False, True), (None, False, False),
                                            (VOCAB, True, False)])
def test_counts_equal_transformers_parameters(rows, tied, bias):
    """The head narrower or whole, tied (Apertus1p5TextForCausalLM's tying gives the head the
    whole embedding, whatever output_vocab_size says), attention biases on or off:
    transformers' model, the meta count, the closed form and config.json's values agree, and
    the head's rows are lm_head_rows."""
    config = small(output_vocab_size=rows, tie_word_embeddings=tied, attention_bias=bias)
    model = AutoModelForCausalLM.from_config(config)
    assert type(model).__name__ == "Apertus1p5TextForCausalLM"
    assert model.lm_head.weight.shape[0] == lm_head_rows(config)
    assert count_params(config) == count_params_meta(config) == numel(model)
    assert count_params(config_from_dict(json.loads(config.to_json_string()))) == numel(model)


def test_prunebenchs_model_is_transformers_model_reading_media_ids():
    """The family tests' model computes transformers' logits, VOCAB wide, of ids that reach
    into the media rows of the embedding (read, not scored)."""
    model = family_model(NAME)
    theirs = AutoModelForCausalLM.from_config(model.config).eval()
    theirs.load_state_dict(model.state_dict())
    x = ids()
    x[:, 5] = VOCAB + MEDIA - 1
    ours = logits(model, x)
    assert ours.shape[-1] == VOCAB
    torch.testing.assert_close(ours, logits(theirs, x), rtol=0, atol=1e-5)


def test_depth_pruning_is_transformers_model_of_the_kept_blocks(tmp_path):
    """Blocks 1 and 2 removed: transformers' two-block model given blocks 0 and 3 computes
    the same logits; saved, it reloads (the narrower head too) by prunebench and by
    transformers and both hf backends decode as transformers' generate."""
    pruned = without_blocks_1_and_2_is(
        family_model(NAME), "model.layers",
        AutoModelForCausalLM.from_config(small(num_hidden_layers=2)), tmp_path)
    assert pruned.config.output_vocab_size == VOCAB


def test_a_uniformly_width_pruned_model_is_transformers_model_of_its_widths():
    """Every block loses KV group 0 (query heads 0 and 1) and MLP channels 3..34: the model
    computes what transformers' model of 2 query heads on 1 KV head and 96 channels computes
    given the rows the test keeps itself (q/k/v with their biases, o_proj's columns, up_proj's
    rows and down_proj's columns: no gate)."""
    model = family_model(NAME)
    original, q_rows, kv_rows, keep = prune_every_block_uniformly(model, list(range(3, 35)), 32)
    state = sliced_state(original, rows={"q_proj": q_rows, "k_proj": kv_rows, "v_proj": kv_rows,
                                         "up_proj": keep},
                         columns={"o_proj": q_rows, "down_proj": keep})
    reference = AutoModelForCausalLM.from_config(small(
        num_attention_heads=2, num_key_value_heads=1, intermediate_size=96)).eval()
    reference.load_state_dict(state)
    x = ids()
    torch.testing.assert_close(logits(model, x), logits(reference, x), rtol=0, atol=1e-5)
    assert numel(model) == numel(reference) == count_params(model.config)


@pytest.mark.parametrize("fuse", [True, False])
def test_the_compiled_decoder_gives_transformers_logits_for_a_width_pruned_model(fuse):
    decoder = decoder_gives_transformers_logits(width_pruned(family_model(NAME)), fuse)
    assert decoder.vocab_size == VOCAB  # (the head's rows, not the input vocabulary)


def test_the_compiled_decoder_decodes_a_width_pruned_model_as_generate_does():
    decodes_as_generate_does(width_pruned(family_model(NAME)))


def test_an_id_past_the_head_is_refused_before_the_loss_is_taken():
    """Perplexity of text the head scores runs; an id past the head's rows (a media code) is
    refused naming the head's width, where the loss would fail on it; a whole head takes
    every id; calibration windows are checked alike (scored_id_problem)."""
    from prunebench.data import scored_id_problem
    from prunebench.evaluate import perplexity

    model = family_model(NAME)
    stream = ids(1, 40)[0]
    assert torch.isfinite(torch.tensor(perplexity(model, stream, 8)["perplexity"]))
    stream[17] = VOCAB + 3
    with pytest.raises(PrunebenchError, match=f"token id {VOCAB + 3}, which the model reads "
                       f"but does not score: its LM head has the first {VOCAB} ids' rows"):
        perplexity(model, stream, 8)
    assert scored_id_problem(stream[None], model.config) is not None
    assert scored_id_problem(stream[None], small(output_vocab_size=None)) is None
    with pytest.raises(IndexError, match="out of bounds"):  # what the check spares
        torch.nn.functional.cross_entropy(logits(model, stream[None])[0], stream)


def test_a_zero_shot_request_scoring_an_id_past_the_head_is_refused(small_tokenizer):
    """lm-eval takes an answer's log-probabilities from the logits at its ids: one past the
    head's rows (a media code) is refused naming the head's width, in an answer and in a
    rolling log-likelihood's text alike, where lm-eval's own gather fails; text ids score as
    the model's log-probabilities, and a context may hold a media id (read, not scored)."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from prunebench import zeroshot

    model = family_model(NAME)
    lm = zeroshot.language_model(model, small_tokenizer, 1, add_bos_token=False,
                                 encode=lambda text: [int(word) for word in text.split()])
    context, answer = [5, VOCAB + MEDIA - 1, 42], [61, 7]
    (scored, _), = lm.loglikelihood([Instance("loglikelihood", {}, ("5 159 42", " 61 7"), 0)],
                                    disable_tqdm=True)
    with torch.no_grad():
        out = model(torch.tensor([context + answer[:-1]])).logits[0, -len(answer):]
    expected = torch.log_softmax(out, -1, dtype=torch.float32)[range(len(answer)), answer]
    assert scored == pytest.approx(float(expected.sum()), rel=1e-5, abs=1e-5)
    past = f"token id {VOCAB + 3}, which the model reads but does not score: its LM head"
    with pytest.raises(PrunebenchError, match=rf"answer ' 61 {VOCAB + 3}'\) holds {past}"):
        lm.loglikelihood([Instance("loglikelihood", {}, ("5 17", f" 61 {VOCAB + 3}"), 0)],
                         disable_tqdm=True)
    with pytest.raises(PrunebenchError, match=f"scored tokens holds {past}"):
        lm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (f"5 {VOCAB + 3} 9",),
                                           0)], disable_tqdm=True)
    with pytest.raises(RuntimeError, match="out of bounds"):  # what the refusal spares
        HFLM._loglikelihood_tokens(lm, [(("", ""), [5, 17], [61, VOCAB + 3])],
                                   disable_tqdm=True)
