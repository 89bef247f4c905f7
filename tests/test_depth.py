"""Depth pruning with the PPL criterion on the trained tiny model."""
import copy

import pytest
import torch
from transformers import AutoModelForCausalLM

from block_helpers import assert_kept_blocks_exact, insert_block
from prunebench import PrunebenchError
from prunebench.data import calibration_windows, load_rows
from prunebench.methods.depth import calibration_nll, prune_ppl, removable_blocks, without_blocks
from prunebench.evaluate import perplexity, token_stream
from prunebench.modeling import count_params, load_model, load_tokenizer
from prunebench.pruning import prune_checkpoint


@pytest.fixture(scope="module")
def calibration(tiny_model_dir, embedded_corpus):
    tokenizer = load_tokenizer(tiny_model_dir)
    return calibration_windows(load_rows("embedded", "train", embedded_corpus), tokenizer,
                               n=10, length=128, seed=1234, wrap_rows=True)  # as the pipeline


@pytest.fixture(scope="module")
def heldout(tiny_model_dir, embedded_corpus):
    tokenizer = load_tokenizer(tiny_model_dir)
    text = "\n".join(load_rows("embedded", "test", embedded_corpus)[:300])
    return token_stream(tokenizer, text)


def heldout_ppl(model, stream):
    return perplexity(model, stream, window=128, batch_size=16)["perplexity"]


def with_sabotage_block(model, at: int):
    """The model with an extra block at `at`: a copy of the block there with its attention's and
    MLP's output projections scaled by 1e5, whose outputs drown the residual stream. The
    model is broken unless exactly that block is removed, and removing it gives back the model
    itself. (Of the other blocks' size: a block of another size, an o_proj bias more, would be
    sized apart by the depth plan, `sizing.sized_by_mix`, and the test would say nothing.)"""
    extra = copy.deepcopy(model.model.layers[at])
    with torch.no_grad():
        extra.self_attn.o_proj.weight.mul_(1e5)
        extra.mlp.down_proj.weight.mul_(1e5)
    insert_block(model, at, extra)
    return model


def test_ppl_criterion_removes_the_one_block_that_breaks_the_model(tiny_model_dir, calibration,
                                                                   heldout):
    at = 4
    model = with_sabotage_block(load_model(tiny_model_dir), at)
    n = model.config.num_hidden_layers
    per_block = sum(p.numel() for p in model.model.layers[0].parameters())
    report = prune_ppl(model, calibration, count_params(model.config) - per_block)
    assert report["num_removed"] == 1 and len(report["block_scores"]) == n == 9
    assert report["removed_blocks"] == [at], report["block_scores"]
    # What is left is the dense model itself, exactly; any other single removal leaves it broken.
    dense = load_model(tiny_model_dir)
    assert heldout_ppl(model, heldout) == heldout_ppl(dense, heldout)
    scores = report["block_scores"]
    assert min(s for b, s in enumerate(scores) if b != at) > 10 * scores[at], scores


def test_scores_are_perplexities_without_each_block(tiny_model_dir, calibration):
    model = load_model(tiny_model_dir)
    target = count_params(model.config) - 1
    report = prune_ppl(load_model(tiny_model_dir), calibration, int(target * 0.9))
    with without_blocks(model, {2}):
        nll = calibration_nll(model, calibration, batch_size=10)
    assert report["block_scores"][2] == pytest.approx(torch.tensor(nll).exp().item(), rel=1e-6)
    # the blocks removed are the lowest-scoring ones
    worst_kept = min(s for i, s in enumerate(report["block_scores"])
                     if i not in report["removed_blocks"])
    assert all(report["block_scores"][b] <= worst_kept for b in report["removed_blocks"])


def test_scores_in_half_precision_keep_the_weights_exact(tiny_model_dir, calibration):
    """dtype: float16 (the study's) scores perplexities on a float16 copy; the blocks kept are
    the loaded float32 weights, untouched."""
    half = load_model(tiny_model_dir).half()
    with without_blocks(half, {3}):
        nll = calibration_nll(half, calibration, batch_size=10)
    model = load_model(tiny_model_dir)
    dense = {k: v.clone() for k, v in model.state_dict().items()}
    target = int(count_params(model.config) * 0.8)
    report = prune_ppl(model, calibration, target, dtype="float16")
    assert report["dtype"] == "float16"
    assert report["block_scores"][3] == pytest.approx(torch.tensor(nll).exp().item(), rel=1e-6)
    assert_kept_blocks_exact(model, dense, report["removed_blocks"], len(report["block_scores"]))
    with pytest.raises(PrunebenchError, match="dtype='float8'"):
        prune_ppl(load_model(tiny_model_dir), calibration, target, dtype="float8")


def test_a_float16_checkpoint_is_scored_in_place_and_keeps_its_weights(small_random_model,
                                                                       tmp_path, monkeypatch):
    """The study's case: a checkpoint stored in float16 scored in float16 needs no copy (a 13B
    model's would take 26 GB more); cast back, its weights are the loaded ones exactly."""
    from prunebench.methods import depth
    from prunebench.modeling import save_model

    source = small_random_model(seed=2, num_hidden_layers=6).half()
    source.config.dtype = torch.float16  # as the hub's LLaMA config.json records it
    save_model(source, None, tmp_path / "fp16")
    model = load_model(tmp_path / "fp16")  # float32, from float16 values
    dense = {k: v.clone() for k, v in model.state_dict().items()}
    monkeypatch.setattr(depth.copy, "deepcopy", lambda *a: pytest.fail("copied the model"))
    windows = torch.randint(3, 128, (4, 32), generator=torch.Generator().manual_seed(0))
    report = prune_ppl(model, windows, int(count_params(model.config) * 0.7), dtype="float16")
    kept = [b for b in range(6) if b not in report["removed_blocks"]]
    assert next(model.parameters()).dtype == torch.float32
    for new, old in enumerate(kept):
        for name, tensor in model.model.layers[new].state_dict().items():
            assert torch.equal(tensor, dense[f"model.layers.{old}.{name}"]), (old, name)


def test_a_cast_copy_holds_no_second_copy_of_the_weights_in_their_own_dtype(small_random_model):
    """Scoring a float32 model in float16 copies it cast: the copy's weights are made in
    float16 straight away, never first as float32 copies (a 13B model's 52 GB more), and it
    computes what the model cast whole computes; the model is left as it was."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from prunebench.methods.depth import cast_copy

    model = small_random_model(seed=4, tie_word_embeddings=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    smallest_weight = min(p.numel() for p in model.parameters() if p.dim() == 2)

    class Float32Copies(TorchDispatchMode):
        made = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            inputs = {a.untyped_storage().data_ptr() for a in args
                      if isinstance(a, torch.Tensor)}
            if (isinstance(out, torch.Tensor) and out.dtype == torch.float32
                    and out.numel() >= smallest_weight
                    and out.untyped_storage().data_ptr() not in inputs):  # not a view: new
                Float32Copies.made += 1
            return out

    with Float32Copies():
        copied = cast_copy(model, torch.float16)
    assert Float32Copies.made == 0
    assert {p.dtype for p in copied.parameters()} == {torch.float16}
    assert copied.lm_head.weight is copied.model.embed_tokens.weight  # still tied
    ids = torch.randint(3, 128, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(copied(ids).logits, copy.deepcopy(model).half()(ids).logits)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_pruned_checkpoint_is_plain_hf_and_reloads_identically(tiny_model_dir, calibration, tmp_path):
    dense_params = count_params(load_model(tiny_model_dir).config)
    report = prune_checkpoint(tiny_model_dir, "depth_ppl", "0.8", tmp_path / "ckpt", calibration)
    assert report["blocks_after"] < report["blocks_before"]
    block = (dense_params - report["params_after"]) / (report["blocks_before"] - report["blocks_after"])
    assert abs(report["params_after"] - 0.8 * dense_params) <= block  # within one block
    ours = load_model(tmp_path / "ckpt")
    hf = AutoModelForCausalLM.from_pretrained(tmp_path / "ckpt", dtype=torch.float32).eval()
    ids = calibration[:2, :64]
    with torch.no_grad():
        assert torch.equal(ours(ids).logits, hf(ids).logits)


def test_the_report_says_how_clearly_the_scores_separate_removed_from_kept(tiny_model_dir,
                                                                          calibration):
    model = load_model(tiny_model_dir)
    report = prune_ppl(model, calibration, int(count_params(model.config) * 0.7))
    k, ranking, scores = report["num_removed"], report["ranking"], report["block_scores"]
    cut = report["cut"]
    assert cut["last_removed"] == ranking[k - 1] and cut["last_removed"] in report["removed_blocks"]
    assert cut["first_kept"] == ranking[k] and cut["first_kept"] not in report["removed_blocks"]
    low, high = scores[cut["last_removed"]], scores[cut["first_kept"]]
    assert cut["relative_gap"] == pytest.approx((high - low) / high) and cut["relative_gap"] >= 0


@pytest.mark.parametrize("scores, k, near_tie", [
    ([5.0, 1.0, 2.0, 2.0 * (1 + 1e-4), 9.0], 2, True),  # 0.01% apart: the study's kind of tie
    ([5.0, 1.0, 2.0, 3.0, 9.0], 2, False),               # a third apart
])
def test_a_near_tie_at_the_cut_is_warned_of(small_random_model, scores, k, near_tie, caplog):
    from prunebench.methods.depth import prune_one_shot

    model = small_random_model(num_hidden_layers=5)
    per_block = sum(p.numel() for p in model.model.layers[0].parameters())
    target = count_params(model.config) - k * per_block
    report = prune_one_shot(model, target, {"protect_first": 0, "protect_last": 0}, "test",
                            lambda: (scores, {}))
    assert report["removed_blocks"] == [1, 2]
    assert (report["cut"]["last_removed"], report["cut"]["first_kept"]) == (2, 3)
    assert ("near tie" in caplog.text) is near_tie


def test_no_cut_when_nothing_stays_to_compare():
    from prunebench.methods.depth import cut_margin

    assert cut_margin([3, 1, 2], [1.0, 2.0, 3.0, 0.5], 0) is None
    assert cut_margin([3, 1, 2], [1.0, 2.0, 3.0, 0.5], 3) is None
    assert cut_margin([0, 1], [0.0, 0.0], 1)["relative_gap"] == 0.0  # all-zero scores: a tie


def test_protected_blocks_are_never_removed(tiny_model_dir, calibration):
    model = load_model(tiny_model_dir)
    n = model.config.num_hidden_layers
    report = prune_ppl(model, calibration, int(count_params(model.config) * 0.6),
                       protect_first=2, protect_last=2)
    assert all(2 <= b < n - 2 for b in report["removed_blocks"])


def test_bad_parameters_are_refused_before_anything_changes(tiny_model_dir, calibration, tmp_path):
    model = load_model(tiny_model_dir)
    with pytest.raises(PrunebenchError, match="unknown parameter"):
        prune_ppl(model, calibration, 10, criterion="magic")
    with pytest.raises(PrunebenchError, match="no removable block"):
        removable_blocks(8, 4, 4)
    with pytest.raises(PrunebenchError, match="unknown pruning method 'depth_magic'"):
        prune_checkpoint(tiny_model_dir, "depth_magic", "0.5", tmp_path / "x", calibration)
    with pytest.raises(PrunebenchError, match="larger than the model"):
        prune_checkpoint(tiny_model_dir, "depth_ppl", "5B", tmp_path / "x", calibration)
    with pytest.raises(PrunebenchError, match="no model at"):
        prune_checkpoint(tmp_path / "missing", "depth_ppl", "0.5", tmp_path / "x", calibration)
    assert not (tmp_path / "x").exists()
    assert model.config.num_hidden_layers == load_model(tiny_model_dir).config.num_hidden_layers
