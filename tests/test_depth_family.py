"""The block-removal family: PPL, Taylor+, Mag+ (one shot), SLEB (iterative), ShortGPT (BI),
angular distance (a run of consecutive blocks)."""
import copy
import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from block_helpers import assert_kept_blocks_exact, insert_block
from prunebench import PrunebenchError
from prunebench.methods import depth, depth_angular, depth_mag, depth_taylor, shortgpt, sleb
from prunebench.data import calibration_windows, load_rows
from prunebench.modeling import count_params, load_model, load_tokenizer
from prunebench.pruning import DATA_FREE, METHODS, method_module, prune_checkpoint

PRUNE = {"ppl": depth.prune_ppl, "taylor": depth_taylor.prune, "mag": depth_mag.prune,
         "sleb": sleb.prune, "shortgpt": shortgpt.prune, "angular": depth_angular.prune}
OFF = {"protect_first": 0, "protect_last": 0}
NEW_METHODS = ["depth_taylor", "depth_mag", "sleb", "shortgpt", "depth_angular"]


@pytest.fixture(scope="module")
def calibration(tiny_model_dir, embedded_corpus):
    tokenizer = load_tokenizer(tiny_model_dir)
    return calibration_windows(load_rows("embedded", "train", embedded_corpus), tokenizer,
                               n=8, length=96, seed=1234, wrap_rows=True)


def blocks_worth(model, k):
    """A target k blocks below the model's size (blocks of a LLaMA are all the same size)."""
    n = model.config.num_hidden_layers
    per_block = sum(p.numel() for p in model.model.layers[0].parameters())
    assert count_params(model.config) - n * per_block > 0
    return count_params(model.config) - k * per_block


def make_identity(model, block):
    """Every parameter of the block zeroed, norm weights included: both residual updates are
    exactly 0, so the block passes its input on bit for bit, and its Mag+ and Taylor+ scores
    are exactly 0."""
    with torch.no_grad():
        for p in model.model.layers[block].parameters():
            p.zero_()
    return model


def insert_copy(model, block):
    """The model with block `block` duplicated right after itself (the copy is index block+1)."""
    insert_block(model, block + 1, copy.deepcopy(model.model.layers[block]))
    return model


def direct_taylor(model, ids, batch_size=None):
    """The study's script's rule, with plain backward passes (no hooks, no tricks): per block,
    the sum over its weights (no biases) of |w * G|, G the gradients of each batch's mean loss
    summed over the batches of `batch_size` windows (all in one by default)."""
    model.zero_grad(set_to_none=True)
    batch_size = batch_size or len(ids)
    for i in range(0, len(ids), batch_size):
        model(input_ids=ids[i:i + batch_size], labels=ids[i:i + batch_size]).loss.backward()
    scores = [sum(float((p.detach() * p.grad).abs().sum())
                  for name, p in layer.named_parameters() if "weight" in name)
              for layer in model.model.layers]
    model.zero_grad(set_to_none=True)
    return scores


# --------------------------------------------------------------------------- the criteria

@pytest.mark.parametrize("criterion", list(PRUNE))
def test_an_identity_block_is_removed_first(tiny_model_dir, calibration, criterion):
    model = make_identity(load_model(tiny_model_dir), 3)
    report = PRUNE[criterion](model, calibration, blocks_worth(model, 1), **OFF)
    if criterion in ("ppl", "sleb"):
        # Removing the identity block leaves the same function: its loss is the model's own,
        # exactly. Whether another block's removal lowers the loss further depends on the
        # trained weights, so what is certain is that the lowest one is removed.
        if criterion == "ppl":
            losses, own = report["block_scores"], report["calibration_ppl_dense"]
        else:
            nll = report["rounds"][0]["candidate_nll"]
            losses, own = [nll[str(b)] for b in range(8)], report["calibration_nll_dense"]
        assert losses[3] == own, (losses, own)
        assert report["removed_blocks"] == [min(range(8), key=lambda b: (losses[b], b))], losses
    else:
        assert report["removed_blocks"] == [3], report
        if criterion in ("taylor", "mag"):
            assert report["block_scores"][3] == 0.0
    assert model.config.num_hidden_layers == 7 and len(model.model.layers) == 7


def test_block_influence_of_an_identity_block_is_zero(tiny_model_dir, calibration):
    model = make_identity(load_model(tiny_model_dir), 3)
    bi = shortgpt.block_influence(model, calibration, batch_size=3)
    assert bi[3] == pytest.approx(0.0, abs=1e-6)
    assert min(b for i, b in enumerate(bi) if i != 3) > 1e-5


def test_block_influence_matches_a_direct_computation(small_random_model):
    model = small_random_model(seed=3)
    ids = torch.randint(3, 128, (4, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        # a final norm weight that is not all ones, else the norm would only rescale each token
        # and leave the cosine unchanged
        model.model.norm.weight.uniform_(0.1, 2.0)
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
    # hidden[i] is block i's input for every block but the last, whose output HF replaces by
    # the final norm's: that one is exactly what BI must not use.
    cos = [torch.nn.functional.cosine_similarity(a, b, dim=-1).mean().item()
           for a, b in zip(hidden[:-1], hidden[1:])]
    bi = shortgpt.block_influence(model, ids, batch_size=3)
    assert bi[:-1] == pytest.approx([1 - c for c in cos[:-1]], abs=1e-5)
    assert abs(bi[-1] - (1 - cos[-1])) > 1e-3
    # last_block: final_norm reads the last block as the authors' code does (hidden[i], i + 1)
    as_authors = shortgpt.block_influence(model, ids, batch_size=3, last_block="final_norm")
    assert as_authors == pytest.approx([1 - c for c in cos], abs=1e-5)
    assert as_authors[:-1] == bi[:-1]


def test_shortgpt_scores_in_half_precision_and_keeps_the_weights_exact(tiny_model_dir,
                                                                      calibration):
    """dtype: float16 (the original's model) runs the blocks in float16: the scores are those of
    the float16 model; the blocks kept are the loaded float32 weights, untouched."""
    expected = shortgpt.block_influence(load_model(tiny_model_dir).half(), calibration, 8)
    model = load_model(tiny_model_dir)
    dense = {k: v.clone() for k, v in model.state_dict().items()}
    report = shortgpt.prune(model, calibration, blocks_worth(model, 1), dtype="float16")
    assert report["dtype"] == "float16" and report["block_scores"] == expected
    assert expected != shortgpt.block_influence(load_model(tiny_model_dir), calibration, 8)
    assert_kept_blocks_exact(model, dense, report["removed_blocks"], len(expected))
    with pytest.raises(PrunebenchError,
                       match="shortgpt: last_block='norm'.*: choose one of .* the paper's definition"):
        shortgpt.prune(load_model(tiny_model_dir), calibration, blocks_worth(model, 1),
                       last_block="norm")
    with pytest.raises(PrunebenchError, match="shortgpt: dtype='int8'"):
        shortgpt.prune(load_model(tiny_model_dir), calibration, blocks_worth(model, 1),
                       dtype="int8")


def angular(a, b):
    """arccos(cos(a, b)) / pi per row, in float64 (the paper's angular distance)."""
    cos = torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=-1)
    return torch.arccos(cos.clamp(-1, 1)) / torch.pi


def test_angular_distances_match_a_direct_computation(small_random_model):
    """d(l, n): the windows' mean angle between the last token's residual stream entering block
    l and entering block l + n (for l + n = L: what the last block produced, not the final
    norm's output, which `output_hidden_states` gives as its last entry)."""
    model = small_random_model(seed=3, num_hidden_layers=6)
    ids = torch.randint(3, 128, (5, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.model.norm.weight.uniform_(0.1, 2.0)  # a norm that changes directions
        hidden = [h[:, -1] for h in model(input_ids=ids, output_hidden_states=True).hidden_states]
        last_output = []
        handle = model.model.layers[-1].register_forward_hook(
            lambda m, a, out: last_output.append((out[0] if isinstance(out, tuple) else out)[:, -1]))
        model(input_ids=ids)
        handle.remove()
    stream = hidden[:-1] + last_output  # block l's input, l = 0..5, then the last output
    states = depth_angular.last_token_states(model, ids, batch_size=2)  # unequal batches
    assert states.shape == (7, 5, 64)
    for n in (1, 2, 6):
        expected = [angular(stream[s], stream[s + n]).mean().item() for s in range(7 - n)]
        assert depth_angular.angular_distances(states, n) == pytest.approx(expected, abs=1e-6)
    assert angular(hidden[0], hidden[-1]).mean().item() != pytest.approx(
        depth_angular.angular_distances(states, 6)[0], abs=1e-3)


def test_angular_removes_the_run_of_blocks_closest_in_angle(tiny_model_dir, calibration):
    """Two adjacent identity blocks pass their input on unchanged: their run's distance is 0,
    the least there is, and exactly they go. Identities apart (1 and 5) make no run of two
    alone: the run removed is consecutive and of the smallest distance, and a run of an
    identity and a real block turns the stream exactly as the real block alone does."""
    model = make_identity(make_identity(load_model(tiny_model_dir), 4), 5)
    report = depth_angular.prune(model, calibration, blocks_worth(model, 2))
    assert report["criterion"] == "angular_distance" and report["num_removed"] == 2
    assert report["removed_blocks"] == [4, 5] and report["start"] == 4
    assert report["start_distances"][4] == pytest.approx(0.0, abs=1e-6)
    assert min(d for s, d in enumerate(report["start_distances"]) if s != 4) > 1e-4
    assert model.config.num_hidden_layers == 6 and len(model.model.layers) == 6

    model = make_identity(make_identity(load_model(tiny_model_dir), 1), 5)
    states = depth_angular.last_token_states(model, calibration)
    single = depth_angular.angular_distances(states, 1)
    report = depth_angular.prune(model, calibration, blocks_worth(model, 2))
    start, distances = report["start"], report["start_distances"]
    assert distances == depth_angular.angular_distances(states, 2)
    assert distances[1] == single[2] and distances[0] == single[0]  # around identity 1
    assert distances[4] == single[4] and distances[5] == single[6]  # around identity 5
    assert report["removed_blocks"] == [start, start + 1]
    assert distances[start] == min(distances) and report["ranking"][0] == start


def test_angular_runs_stay_within_the_protected_range(tiny_model_dir, calibration):
    model = make_identity(make_identity(load_model(tiny_model_dir), 0), 1)
    report = depth_angular.prune(model, calibration, blocks_worth(model, 2), protect_first=1,
                                 protect_last=2)
    assert set(report["ranking"]) == {1, 2, 3, 4}  # runs of two in blocks 1..5
    assert report["removed_blocks"][0] >= 1 and report["removed_blocks"][-1] <= 5
    assert report["start_distances"][0] == pytest.approx(0.0, abs=1e-6)  # reported, not taken


def test_angular_scores_in_half_precision_and_keeps_the_weights_exact(tiny_model_dir,
                                                                     calibration):
    expected = depth_angular.angular_distances(
        depth_angular.last_token_states(load_model(tiny_model_dir).half(), calibration), 2)
    model = load_model(tiny_model_dir)
    dense = {k: v.clone() for k, v in model.state_dict().items()}
    report = depth_angular.prune(model, calibration, blocks_worth(model, 2), dtype="float16")
    assert report["dtype"] == "float16" and report["start_distances"] == expected
    assert_kept_blocks_exact(model, dense, report["removed_blocks"], 8)
    with pytest.raises(PrunebenchError, match="depth_angular: dtype='int8'"):
        depth_angular.prune(load_model(tiny_model_dir), calibration, blocks_worth(model, 1),
                            dtype="int8")


def test_angular_states_refuse_a_block_that_did_not_run(small_random_model):
    """A block the model did not run has no state of its own: taken as passing its input on,
    its runs would look free to remove. Only a Llama 3.2 Vision model's cross-attention blocks
    (skipped on text) are; any other is refused, naming it (here a model running its first
    three blocks of four, as LLaMA runs those its config counts)."""
    model = small_random_model(seed=3, num_hidden_layers=4)
    model.config.num_hidden_layers = 3
    ids = torch.randint(3, 128, (2, 8), generator=torch.Generator().manual_seed(0))
    with pytest.raises(PrunebenchError, match=r"block\(s\) \[3\] did not run"):
        depth_angular.last_token_states(model, ids)

@pytest.mark.parametrize("batch_size,checkpointing", [(4, True), (3, True), (4, False)])
def test_taylor_scores_equal_a_direct_sum_of_w_times_g(small_random_model, batch_size, checkpointing):
    """As the study's script computes them, also in unequal batches (3 and 1 windows: each
    batch's mean loss weighs 1, not its share of the windows) and with biases (not scored)."""
    model = small_random_model(seed=1, attention_bias=True)
    with torch.no_grad():  # transformers starts biases at 0, where |b * g| is 0 anyway
        for p in (p for name, p in model.named_parameters() if name.endswith("bias")):
            p.normal_()
    ids = torch.randint(3, 128, (4, 32), generator=torch.Generator().manual_seed(0))
    scores, loss = depth_taylor.taylor_scores(model, ids, batch_size=batch_size,
                                              gradient_checkpointing=checkpointing)
    assert scores == pytest.approx(direct_taylor(model, ids, batch_size), rel=1e-4)
    with torch.no_grad():
        assert loss == pytest.approx(model(input_ids=ids, labels=ids).loss.item(), rel=1e-5)
    # everything is as it was: no gradients kept, eval mode, requires_grad, no checkpointing
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    assert not model.training
    assert not (model.is_activation_checkpointing if hasattr(model, "activation_checkpointing_enable")
                else model.is_gradient_checkpointing)


def test_taylor_in_half_precision_is_close_and_leaves_weights_untouched(small_random_model):
    model = small_random_model(seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = torch.randint(3, 128, (4, 32), generator=torch.Generator().manual_seed(0))
    scores, _ = depth_taylor.taylor_scores(model, ids, batch_size=4, dtype="bfloat16")
    exact = direct_taylor(model, ids)
    # bf16 keeps 8 bits (0.4% per rounding); measured error 0.15%, allowed far more
    assert scores == pytest.approx(exact, rel=0.25)
    # exact whatever the rounding: an all-zero block scores 0, in its own place
    zeroed, _ = depth_taylor.taylor_scores(make_identity(small_random_model(seed=1), 2), ids,
                                           batch_size=4, dtype="bfloat16")
    assert zeroed[2] == 0.0 and min(zeroed[:2] + zeroed[3:]) > 0, zeroed
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # a half-precision model is scored in float32 and given back in its own dtype, bit for bit
    half = small_random_model(seed=1).to(torch.bfloat16)
    weights = {k: v.clone() for k, v in half.state_dict().items()}
    depth_taylor.taylor_scores(half, ids, batch_size=4)
    assert all(v.dtype == weights[k].dtype and torch.equal(weights[k], v)
               for k, v in half.state_dict().items())


def test_taylor_in_float16_scales_its_loss_so_the_logits_gradients_do_not_underflow(
        small_random_model):
    """With LLaMA's vocabulary and the study's 10 x 128 windows a logit's gradient is about
    1 / 32000 / 1270 = 2.5e-8, below float16's smallest subnormal: unscaled, autocast's cast
    flushes nearly all of them to zero (about 90% here); scaled, next to none. The scores come
    back in the loss's own units, within float16's rounding of float32's."""
    model = small_random_model(seed=3, vocab_size=32000, hidden_size=32, intermediate_size=64,
                               num_attention_heads=2, num_hidden_layers=2)
    ids = torch.randint(3, 32000, (10, 128), generator=torch.Generator().manual_seed(0))
    zero_shares = []

    def zero_share(module, grad_input, grad_output):
        zero_shares.append((grad_output[0] == 0).float().mean().item())

    handle = model.lm_head.register_full_backward_hook(zero_share)
    try:
        half, _ = depth_taylor.taylor_scores(model, ids, dtype="float16",
                                             gradient_checkpointing=False)
    finally:
        handle.remove()
    assert zero_shares and max(zero_shares) < 0.2, zero_shares
    exact, _ = depth_taylor.taylor_scores(model, ids, gradient_checkpointing=False)
    assert half == pytest.approx(exact, rel=0.05)


def test_taylor_gradients_that_overflow_float16_are_scored_again_at_a_smaller_scale(
        small_random_model, monkeypatch):
    model = small_random_model(seed=1)
    ids = torch.randint(3, 128, (4, 32), generator=torch.Generator().manual_seed(0))
    scales = []
    real = depth_taylor._scaled_sums

    def overflowing_above_256(model, calibration, batch_size, compute, checkpointing, scale):
        scales.append(scale)
        sums, loss = real(model, calibration, batch_size, compute, checkpointing, scale)
        return ([float("inf")] * len(sums) if scale > 256 else sums), loss

    monkeypatch.setattr(depth_taylor, "_scaled_sums", overflowing_above_256)
    scores, _ = depth_taylor.taylor_scores(model, ids, batch_size=4, dtype="float16")
    assert scales == [2.0 ** 16, 2.0 ** 12, 2.0 ** 8]
    assert scores == pytest.approx(direct_taylor(model, ids), rel=0.05)
    monkeypatch.setattr(depth_taylor, "_scaled_sums", lambda *args: ([float("nan")] * 4, 1.0))
    with pytest.raises(PrunebenchError, match="overflow float16 .*use dtype bfloat16 or float32"):
        depth_taylor.taylor_scores(model, ids, batch_size=4, dtype="float16")


def test_magnitude_scores_are_the_sum_of_abs_weights(small_random_model):
    model = small_random_model(seed=2)
    # In float64, as the scores are: a float32 sum's rounding depends on the order in which the
    # CPU's vector units add, and at rel=1e-6 could differ from the exact sum.
    expected = [sum(float(p.detach().abs().sum(dtype=torch.float64)) for p in layer.parameters())
                for layer in model.model.layers]
    assert depth_mag.magnitude_scores(model) == pytest.approx(expected, rel=1e-6)
    # biases are not scored (the study's script scores parameters named `weight`)
    biased = small_random_model(seed=2, attention_bias=True)
    unbiased = depth_mag.magnitude_scores(biased)
    with torch.no_grad():
        biased.model.layers[1].self_attn.q_proj.bias.fill_(100.0)
    assert depth_mag.magnitude_scores(biased) == unbiased
    # norms count: changing an RMSNorm weight changes only its block's score
    with torch.no_grad():
        model.model.layers[1].input_layernorm.weight.mul_(3)
    after = depth_mag.magnitude_scores(model)
    assert after[1] > expected[1] and after[0] == pytest.approx(expected[0])


# --------------------------------------------------------------------------- SLEB

def test_sleb_first_round_is_the_ppl_criterions_first_choice(tiny_model_dir, calibration):
    model = load_model(tiny_model_dir)
    target = blocks_worth(model, 1)
    # One batch size for both: batched sums round differently, which could swap a near tie.
    ppl = depth.prune_ppl(load_model(tiny_model_dir), calibration, target, batch_size=8, **OFF)
    report = sleb.prune(model, calibration, target, batch_size=8, **OFF)
    assert report["removed_blocks"] == ppl["ranking"][:1]
    nll = report["rounds"][0]["candidate_nll"]
    assert len(nll) == 8
    assert [int(b) for b in sorted(nll, key=lambda b: (nll[b], int(b)))] == ppl["ranking"]


def test_sleb_differs_from_one_shot_ppl_on_blocks_redundant_alone_not_together(
        small_random_model, monkeypatch):
    # A scripted calibration loss per set of removed blocks: blocks 1 and 2 each cost little
    # alone but much together. One-shot PPL removes the two cheapest alone (1 and 2); SLEB
    # removes 1, then judges the rest without it, where 2 is now expensive, and removes 3.
    cost = {0: 5.0, 1: 0.1, 2: 0.2, 3: 1.0}
    models = [small_random_model(seed=0), small_random_model(seed=0)]
    index = {id(layer): i for m in models for i, layer in enumerate(m.model.layers)}

    def scripted_nll(model, calibration, batch_size):
        removed = set(cost) - {index[id(layer)] for layer in model.model.layers}
        return 1.0 + sum(cost[b] for b in removed) + (10.0 if {1, 2} <= removed else 0.0)

    monkeypatch.setattr(depth, "calibration_nll", scripted_nll)
    ids = torch.randint(3, 128, (2, 16), generator=torch.Generator().manual_seed(0))
    target = blocks_worth(models[0], 2)
    one_shot = depth.prune_ppl(models[0], ids, target, **OFF)
    assert one_shot["removed_blocks"] == [1, 2] and one_shot["ranking"] == [1, 2, 3, 0]
    report = sleb.prune(models[1], ids, target, **OFF)
    assert report["removal_order"] == [1, 3] and report["removed_blocks"] == [1, 3]
    assert [index[id(layer)] for layer in models[1].model.layers] == [0, 2]
    first, second = report["rounds"]
    assert first["candidate_nll"] == pytest.approx({"0": 6.0, "1": 1.1, "2": 1.2, "3": 2.0})
    assert (first["nll"], second["nll"]) == pytest.approx((1.1, 2.1))
    assert second["candidate_nll"] == pytest.approx({"0": 6.1, "2": 11.3, "3": 2.1})


def scripted_losses(monkeypatch, model, nll_without):
    """Make the calibration loss of `model` with some blocks left out `nll_without(removed)`."""
    index = {id(layer): i for i, layer in enumerate(model.model.layers)}
    blocks = set(index.values())

    def scripted_nll(scored, calibration, batch_size):
        return nll_without(blocks - {index[id(layer)] for layer in scored.model.layers})

    monkeypatch.setattr(depth, "calibration_nll", scripted_nll)


NAN = float("nan")


def test_a_block_whose_removal_gives_no_finite_loss_is_never_taken_first(small_random_model,
                                                                          monkeypatch):
    """Without a block the model can overflow (float16: an infinite logit makes the loss NaN).
    Such a block is the most important, as in the original code (SLEB's `loss < min_loss` never
    takes a NaN; the PPL criterion's pandas sort puts it last); a NaN listed first was taken by
    `min` before, since nothing compares below NaN. Nothing is written to the report as NaN."""
    cost = {0: NAN, 1: 5.0, 2: 0.2, 3: 1.0}
    ids = torch.randint(3, 128, (2, 16), generator=torch.Generator().manual_seed(0))
    for prune in (sleb.prune, depth.prune_ppl):
        model = small_random_model(seed=0)
        scripted_losses(monkeypatch, model, lambda removed: 1.0 + sum(cost[b] for b in removed))
        report = prune(model, ids, blocks_worth(model, 2), **OFF)
        assert report["removed_blocks"] == [2, 3], prune
        text = json.dumps(report, allow_nan=False)  # raises on a NaN
        if prune is sleb.prune:
            assert json.loads(text)["rounds"][0]["candidate_nll"]["0"] is None
        else:
            assert report["block_scores"][0] is None and report["ranking"][-1] == 0


def test_a_prune_that_would_take_a_block_without_a_finite_loss_is_refused(small_random_model,
                                                                          monkeypatch):
    """Two blocks to remove and only one whose removal gives a finite loss: the scoring dtype
    overflows, which the message says with its fix, rather than remove an unscored block."""
    cost = {0: NAN, 1: NAN, 2: 0.2, 3: NAN}
    ids = torch.randint(3, 128, (2, 16), generator=torch.Generator().manual_seed(0))
    for prune, said in ((sleb.prune, "sleb: in round 2"), (depth.prune_ppl, "ppl: the scores of "
                                                           "blocks [0, 1, 3] are not finite")):
        model = small_random_model(seed=0)
        scripted_losses(monkeypatch, model, lambda removed: 1.0 + sum(cost[b] for b in removed))
        with pytest.raises(PrunebenchError, match="score in float32 or bfloat16") as err:
            prune(model, ids, blocks_worth(model, 2), **OFF)
        assert said in str(err.value)
        assert model.config.num_hidden_layers == 4  # nothing removed


def test_a_protected_blocks_loss_need_not_be_finite(small_random_model, monkeypatch):
    """The original scores every block and drops the protected ones after: a float16 overflow
    without block 0, which the protection never lets go, must not stop the prune (it did)."""
    cost = {0: NAN, 1: 0.3, 2: 0.2, 3: 1.0}
    model = small_random_model(seed=0)
    scripted_losses(monkeypatch, model, lambda removed: 1.0 + sum(cost[b] for b in removed))
    ids = torch.randint(3, 128, (2, 16), generator=torch.Generator().manual_seed(0))
    report = depth.prune_ppl(model, ids, blocks_worth(model, 1), protect_first=1, protect_last=0)
    assert report["removed_blocks"] == [2] and report["cut"]["first_kept"] == 1


def test_sleb_scores_in_half_precision_and_keeps_the_weights_exact(tiny_model_dir, calibration):
    """dtype: float16 (the original's model) computes every loss on a float16 copy, one window
    per forward pass by default, as the original; the blocks kept are the loaded float32
    weights, untouched."""
    half = load_model(tiny_model_dir).half()
    expected = {}
    for block in range(half.config.num_hidden_layers):
        with depth.without_blocks(half, {block}):
            expected[str(block)] = depth.calibration_nll(half, calibration, batch_size=1)
    model = load_model(tiny_model_dir)
    dense = {k: v.clone() for k, v in model.state_dict().items()}
    report = sleb.prune(model, calibration, blocks_worth(model, 1), dtype="float16", **OFF)
    assert report["dtype"] == "float16"
    assert report["rounds"][0]["candidate_nll"] == expected  # the same computation, exactly
    assert_kept_blocks_exact(model, dense, report["removed_blocks"], len(expected))
    with pytest.raises(PrunebenchError, match="sleb: dtype='float8'"):
        sleb.prune(load_model(tiny_model_dir), calibration, blocks_worth(model, 1),
                   dtype="float8")
    assert METHODS["sleb"].params["batch_size"] == 1  # the original's


def test_sleb_rounds_on_a_model_with_a_duplicated_block(tiny_model_dir, calibration):
    """What is certain on the trained model: removing either copy of a duplicated block gives
    back the original model exactly, and each SLEB round is judged after the earlier ones."""
    j = 2
    dense_nll = depth.calibration_nll(load_model(tiny_model_dir), calibration, batch_size=8)
    copied = insert_copy(load_model(tiny_model_dir), j)
    scores = depth.ppl_scores(depth.calibration_losses(copied, calibration, 8, None, "float32"),
                              copied.config.num_hidden_layers)
    assert scores[j] == scores[j + 1] == depth.nll_to_ppl(dense_nll)
    model = insert_copy(load_model(tiny_model_dir), j)
    reference = insert_copy(load_model(tiny_model_dir), j)
    report = sleb.prune(model, calibration, blocks_worth(model, 2), batch_size=8, **OFF)
    first, second = report["rounds"]
    assert first["candidate_nll"][str(j)] == first["candidate_nll"][str(j + 1)] == dense_nll
    assert first["nll"] == min(first["candidate_nll"].values())
    assert second["nll"] == min(second["candidate_nll"].values())
    assert str(first["removed"]) not in second["candidate_nll"]
    assert len(first["candidate_nll"]) == 9 and len(second["candidate_nll"]) == 8
    # a second-round loss is the loss without both blocks
    other = next(b for b in range(9) if b != first["removed"])
    with depth.without_blocks(reference, {first["removed"], other}):
        direct = depth.calibration_nll(reference, calibration, 8)
    assert second["candidate_nll"][str(other)] == direct
    assert report["removed_blocks"] == sorted(report["removal_order"])
    assert model.config.num_hidden_layers == 7 and len(model.model.layers) == 7


# --------------------------------------------------------------------------- the "+" rule, errors

@pytest.mark.parametrize("criterion", ["taylor", "mag"])
def test_plus_rule_is_on_by_default_and_switches_off(tiny_model_dir, calibration, criterion):
    n = load_model(tiny_model_dir).config.num_hidden_layers
    model = make_identity(load_model(tiny_model_dir), 1)  # the least important, but protected
    report = PRUNE[criterion](model, calibration, blocks_worth(model, 2))
    assert report["protect_first"] == 4 and report["protect_last"] == 2
    assert all(4 <= b < n - 2 for b in report["removed_blocks"])
    assert report["ranking"] == sorted(report["ranking"], key=lambda b: report["block_scores"][b])
    assert set(report["ranking"]) == set(range(4, n - 2))
    off = PRUNE[criterion](make_identity(load_model(tiny_model_dir), 1), calibration,
                           blocks_worth(model, 2), **OFF)
    assert 1 in off["removed_blocks"] and set(off["ranking"]) == set(range(n))
    # the study's rule would leave 2 of 8 blocks removable: three blocks' worth is out of reach
    with pytest.raises(PrunebenchError, match="protect fewer blocks"):
        PRUNE[criterion](load_model(tiny_model_dir), calibration, blocks_worth(model, 4))


@pytest.mark.parametrize("criterion", ["sleb", "shortgpt"])
def test_protection_is_honoured(tiny_model_dir, calibration, criterion):
    model = make_identity(load_model(tiny_model_dir), 0)
    report = PRUNE[criterion](model, calibration, blocks_worth(model, 1), protect_first=1,
                              protect_last=1)
    assert report["removed_blocks"] != [0] and 0 < report["removed_blocks"][0] < 7


@pytest.mark.parametrize("method", NEW_METHODS)
def test_bad_input_is_refused_with_the_fix_named(tiny_model_dir, calibration, method):
    module = method_module(method)
    prune = getattr(module, METHODS[method].entry.split(":")[1])
    model = load_model(tiny_model_dir)
    with pytest.raises(PrunebenchError, match=rf"{method}: unknown parameter\(s\) \['bogus'\]"):
        prune(model, calibration, blocks_worth(model, 1), bogus=1)
    with pytest.raises(PrunebenchError, match="unknown parameter"):
        module.plan(model.config, blocks_worth(model, 1), bogus=1)
    with pytest.raises(PrunebenchError, match="must be an integer"):
        prune(model, calibration, blocks_worth(model, 1), protect_first=-1)
    with pytest.raises(PrunebenchError, match="leave no removable block"):
        prune(model, calibration, blocks_worth(model, 1), protect_first=5, protect_last=3)
    with pytest.raises(PrunebenchError, match="choose a larger target"):
        prune(model, calibration, 1000, **OFF)
    with pytest.raises(PrunebenchError, match="choose a smaller target"):
        prune(model, calibration, count_params(model.config) - 10, **OFF)
    if method not in DATA_FREE:
        with pytest.raises(PrunebenchError, match="needs calibration"):
            prune(model, None, blocks_worth(model, 1), **OFF)
    assert model.config.num_hidden_layers == 8 and len(model.model.layers) == 8


def test_taylor_options_are_checked(tiny_model_dir, calibration):
    model = load_model(tiny_model_dir)
    with pytest.raises(PrunebenchError, match="dtype='fp8': choose one of"):
        depth_taylor.prune(model, calibration, blocks_worth(model, 1), dtype="fp8")
    with pytest.raises(PrunebenchError, match="gradient_checkpointing='yes' must be true or false"):
        depth_taylor.plan(model.config, blocks_worth(model, 1), gradient_checkpointing="yes")


@pytest.mark.parametrize("method", NEW_METHODS)
def test_plan_sizes_the_method_from_the_config(tiny_model_dir, method):
    config = load_model(tiny_model_dir).config
    module = method_module(method)
    plan = module.plan(config, int(count_params(config) * 0.8))
    assert plan["blocks_removed"] == 2 and plan["blocks_after"] == 6
    assert module.DEFAULT_CALIBRATION["n"] >= 1 and set(METHODS[method].params) >= {"protect_first",
                                                                                     "protect_last"}


# --------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("method", NEW_METHODS)
def test_pruned_checkpoint_saves_and_reloads(tiny_model_dir, calibration, tmp_path, method):
    windows = None if method in DATA_FREE else calibration
    report = prune_checkpoint(tiny_model_dir, method, "0.8", tmp_path / "ckpt", windows)
    assert report["blocks_before"] == 8 and report["blocks_after"] == 6
    method_report = report["method_report"]
    assert len(method_report["removed_blocks"]) == 2
    ours = load_model(tmp_path / "ckpt")
    assert ours.config.num_hidden_layers == 6
    assert sum(p.numel() for p in ours.parameters()) == report["params_after"]
    hf = AutoModelForCausalLM.from_pretrained(tmp_path / "ckpt", dtype=torch.float32).eval()
    # the kept blocks are the dense model's, in order
    dense = load_model(tiny_model_dir)
    kept = [i for i in range(8) if i not in method_report["removed_blocks"]]
    for new, old in enumerate(kept):
        assert torch.equal(ours.model.layers[new].mlp.down_proj.weight,
                           dense.model.layers[old].mlp.down_proj.weight)
    ids = calibration[:2, :48]
    with torch.no_grad():
        logits = ours(ids).logits
        assert torch.equal(logits, hf(ids).logits) and torch.isfinite(logits).all()


def test_depth_family_config_layers_over_the_default(tmp_path):
    """config/depth-family.yaml (README) schedules one prune per depth criterion."""
    import yaml
    from workflow_helpers import REPO, copy_workflow, job_counts, run_snakemake

    copy_workflow(tmp_path)
    dry = run_snakemake(tmp_path, "-n", "--cores", "1",
                        configfile=["config/config.yaml", "config/depth-family.yaml"]).stdout
    variants = yaml.safe_load((REPO / "config" / "depth-family.yaml").read_text())["models"]["tiny"]["variants"]
    for method in ("depth_ppl", "depth_taylor", "depth_mag", "sleb", "shortgpt", "depth_angular",
                   "blockpruner"):
        assert f"variant={method}-0.8" in dry, method
    counts = job_counts(dry)
    assert counts["prune"] == len([v for v in variants if v != "dense" and "+" not in v])


# --------------------------------------------------------------------------- resumed scoring

def counting_losses(monkeypatch, interrupt_at: int | None = None) -> list:
    """depth.calibration_nll counted (every depth criterion's loss goes through it), and
    interrupted as by Ctrl-C at call `interrupt_at`; returns the list the calls go into."""
    real = depth.calibration_nll
    calls = []

    def counted(model, calibration, batch_size):
        calls.append(model.config.num_hidden_layers)
        if len(calls) == interrupt_at:
            raise KeyboardInterrupt
        return real(model, calibration, batch_size)

    monkeypatch.setattr(depth, "calibration_nll", counted)
    return calls


def without_counts(report):
    return {k: v for k, v in report.items() if k != "calibration_loss_counts"}


@pytest.mark.parametrize("method", ["depth_ppl", "sleb"])
def test_an_interrupted_scoring_resumes_where_it_stopped(tiny_model_dir, calibration, tmp_path,
                                                          monkeypatch, method):
    """The losses computed before a kill are read back, only the rest computed, and the prune
    ends as an uninterrupted one does, to the last bit of every score."""
    from prunebench.methods.loss_memo import ScoringProgress

    assert METHODS[method].resumable
    prune = {"depth_ppl": depth.prune_ppl, "sleb": sleb.prune}[method]
    model = load_model(tiny_model_dir)
    target = blocks_worth(model, 2)
    # `prunebench plan` says what the prune costs, from the config alone
    planned = method_module(method).plan(model.config, target, **OFF)["calibration_passes"]
    expected = prune(model, calibration, target, **OFF)  # nothing kept without a folder
    total = expected["calibration_loss_counts"]["computed"]
    assert expected["calibration_loss_counts"]["reused"] == 0 and not list(tmp_path.iterdir())
    assert total == planned
    done = total // 2
    counting_losses(monkeypatch, interrupt_at=done + 1)
    with pytest.raises(KeyboardInterrupt):
        prune(load_model(tiny_model_dir), calibration, target,
              progress=ScoringProgress(tmp_path), **OFF)
    (path,) = tmp_path.glob("*.jsonl")
    assert len(path.read_text().splitlines()) == 1 + done  # its header, then one line a loss
    calls = counting_losses(monkeypatch)
    progress = ScoringProgress(tmp_path)
    resumed = prune(load_model(tiny_model_dir), calibration, target, progress=progress, **OFF)
    assert len(calls) == total - done
    assert resumed["calibration_loss_counts"] == {"computed": total - done, "reused": done}
    assert without_counts(resumed) == without_counts(expected)
    assert progress.opened == [path] and path.exists()  # deleted by whoever writes the results


def test_losses_of_another_scoring_are_not_reused(tiny_model_dir, calibration, tmp_path):
    """Another batch size (other floating-point sums), other calibration windows, or weights
    loaded in another dtype (then scored in float32): another store; a model built in memory
    (no manifest to name it): none."""
    from prunebench.methods.loss_memo import ScoringProgress

    target = blocks_worth(load_model(tiny_model_dir), 1)
    runs = [(calibration[:4], 4, torch.float32), (calibration[:4], 2, torch.float32),
            (calibration[:2], 2, torch.float32), (calibration[:2], 2, torch.float16)]
    for windows, batch_size, loaded in runs:
        report = depth.prune_ppl(load_model(tiny_model_dir, dtype=loaded), windows, target,
                                 batch_size=batch_size, progress=ScoringProgress(tmp_path), **OFF)
        assert report["calibration_loss_counts"]["reused"] == 0
    assert len(list(tmp_path.glob("*.jsonl"))) == len(runs)
    in_memory = AutoModelForCausalLM.from_config(load_model(tiny_model_dir).config)
    progress = ScoringProgress(tmp_path / "none")
    depth.prune_ppl(in_memory, calibration[:2], target, progress=progress, **OFF)
    assert progress.opened == [] and not (tmp_path / "none").exists()


def test_a_damaged_loss_is_computed_again(tiny_model_dir, calibration, tmp_path):
    """A kept line that is JSON but not a number (damaged on disk) costs its loss being
    computed again, and written again, never a failed prune."""
    from prunebench.methods.loss_memo import ScoringProgress, open_memo

    model = load_model(tiny_model_dir)
    calls = []

    def compute(blocks):
        calls.append(blocks)
        return 1.5 + len(blocks)

    def memo():
        return open_memo(compute, ScoringProgress(tmp_path), model, calibration[:2], 2,
                         "float32")

    with memo() as losses:
        assert losses.nll({0}) == losses.nll({1}) == 2.5
    (path,) = tmp_path.glob("*.jsonl")
    header, first, second = path.read_text().splitlines()
    path.write_text("\n".join([header, first.replace("2.5", "null"), second]) + "\n")
    calls.clear()
    with memo() as losses:
        assert losses.nll({0}) == losses.nll({1}) == 2.5
    assert calls == [{0}]
    calls.clear()
    with memo() as losses:  # the loss written again is read back
        assert losses.nll({0}) == 2.5 and losses.counts() == {"computed": 0, "reused": 1}
    assert calls == []


def test_a_workflow_prune_leaves_its_losses_for_deletion_at_a_good_exit(
        tiny_model_dir, calibration, tmp_path, monkeypatch):
    """$PRUNEBENCH_SCORING_PROGRESS (the workflow's jobs): the losses are kept there and left
    for deletion when the process ends well (the job's script writes its report after this
    returns; the deletion at exit itself: tests/test_atomic.py); a method that scores no block
    sets opens no store."""
    from prunebench import pruning

    at_exit = []
    monkeypatch.setattr(pruning, "delete_at_successful_exit", at_exit.append)
    monkeypatch.setenv("PRUNEBENCH_SCORING_PROGRESS", str(tmp_path / "progress"))
    prune_checkpoint(tiny_model_dir, "depth_ppl", "0.8", tmp_path / "ppl", calibration,
                     {"batch_size": 8}, device="cpu")
    assert at_exit == list((tmp_path / "progress").glob("*.jsonl")) and len(at_exit) == 1
    prune_checkpoint(tiny_model_dir, "shortgpt", "0.8", tmp_path / "bi", calibration,
                     device="cpu")
    assert len(at_exit) == 1 and not METHODS["shortgpt"].resumable
