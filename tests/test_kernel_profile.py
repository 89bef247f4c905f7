"""The decode-step profile: per-step figures from the profiler's events (benchmarks/gpu_check.py
--profile-steps prints them on a GPU)."""

from __future__ import annotations

import pytest
import torch

from prunebench.benchmark.compiled import StaticDecoder
from prunebench.benchmark.kernel_profile import (category, markdown, profile_decode_steps,
                                                 profile_generate_steps, summarise)
from prunebench.benchmark.runners import HFRunner, HFStaticRunner
from prunebench.modeling import build_model
from transformers import LlamaConfig

GEMV = "gemv2T_kernel_val<int, int, __half, __half, float, 128, 16, 4, 4, false>"
NORM = "triton_red_fused__to_copy_add_mean_mul_pow_rsqrt_0"
FLASH = "pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4>>"


def test_busy_time_is_separated_from_the_gaps_between_kernels():
    # Two steps of three kernels on one stream (µs): 17 busy per step, idle gaps between.
    events = [(GEMV, 0, 10), (NORM, 12, 14), (FLASH, 15, 20),
              (GEMV, 25, 35), (NORM, 37, 39), (FLASH, 40, 45)]
    profile = summarise(events, steps=2, source="device kernels")
    assert profile["per_step"] == 3
    assert profile["busy_ms_per_step"] == pytest.approx(0.017)
    assert profile["span_ms_per_step"] == pytest.approx(0.0225)
    assert profile["busy_fraction"] == pytest.approx(34 / 45)
    assert [(r["category"], r["per_step"], r["share"]) for r in profile["categories"]] == [
        ("gemm/gemv", 1, pytest.approx(10 / 17)), ("attention", 1, pytest.approx(5 / 17)),
        ("generated (triton)", 1, pytest.approx(2 / 17))]
    assert [r["name"] for r in profile["top"]] == [GEMV, FLASH, NORM]
    assert summarise(events, steps=2, source="x", top=1)["top"][0]["name"] == GEMV
    text = markdown(profile, "dense")
    assert text.startswith("dense: 3 device kernels per step, busy 0.017 ms of a 0.022 ms span "
                           "(76%), 2 steps")
    assert f"| `{GEMV}` | 1.0 | 0.010 | 58.8% |" in text


def test_user_annotations_on_the_gpu_timeline_are_not_kernels():
    """Inductor wraps a compiled call in a "## Call CompiledFxGraph ##" annotation, which the
    profiler mirrors onto the GPU timeline over the call's kernels: counting it would count
    their time twice."""
    from types import SimpleNamespace

    from prunebench.benchmark import kernel_profile

    def event(name, start, end, device="DeviceType.CUDA", annotation=False, parent=None):
        return SimpleNamespace(name=name, device_type=device, is_user_annotation=annotation,
                               cpu_parent=parent, time_range=SimpleNamespace(start=start, end=end))

    prof = SimpleNamespace(events=lambda: [
        event("## Call CompiledFxGraph fabc ##", 0, 20, annotation=True),
        event(GEMV, 0, 10), event(NORM, 12, 14),
        event("cudaGraphLaunch", 0, 1, device="DeviceType.CPU")])
    assert kernel_profile._events(prof, "cuda") == [(GEMV, 0.0, 10.0), (NORM, 12.0, 14.0)]
    assert kernel_profile._events(prof, "cpu") == [("cudaGraphLaunch", 0.0, 1.0)]


def test_no_events_say_why_instead_of_dividing_by_zero():
    profile = summarise([], steps=4, source="device kernels")
    assert profile["events"] == 0 and "no events" in profile["note"]
    assert "no events" in markdown(profile, "dense")
    # Events of no duration (a clock too coarse): no share to give, and no crash.
    instant = summarise([(GEMV, 5, 5)], steps=1, source="device kernels")
    assert instant["busy_fraction"] is None and instant["top"][0]["share"] is None
    assert "| - |" in markdown(instant, "dense")


@pytest.mark.parametrize("name,kind", [
    ("fmha_cutlassF_f16_aligned_64x128_rf_sm80", "attention"),  # cutlass, but attention
    ("triton_tem_fused_flex_attention_0", "attention"),  # a generated template, but attention
    ("triton_per_fused__softmax_masked_fill_3", "attention"),
    ("triton_tem_fused_bmm_1", "attention"),
    ("sm90_xmma_gemm_f16f16_f16f32_f32_tn_n_tilesize64x64x64", "gemm/gemv"),
    ("nvjet_sm90_hsh_128x8_64x12_4x1_v_bz_TNT", "gemm/gemv"),  # cuBLAS's nvJet GEMM
    ("nvjet_sm90_hsh_64x8_64x16_2x1_v_bz_splitK_TNT", "gemm/gemv"),
    ("triton_poi_fused_add_cat_mul_1", "generated (triton)"),
    ("Memcpy DtoD (Device -> Device)", "copy/fill"),
    # A rotary kernel fused with a matmul's view: pointwise, not a GEMV.
    ("triton_poi_fused__unsafe_view_add_cat_index_select_mm_mul_neg_slice_unsqueeze_view_2",
     "generated (triton)"),
    ("triton_red_fused__fused_rms_norm__to_copy_mm_mul_t_view_14", "gemm/gemv"),
    ("void at::native::reduce_kernel<512, 1>", "other"),
])
def test_kernel_names_are_grouped_by_family(name, kind):
    assert category(name) == kind


def tiny_decoder(fuse: bool) -> StaticDecoder:
    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=64,
                         max_position_embeddings=64, tie_word_embeddings=False)
    torch.manual_seed(0)
    return StaticDecoder(build_model(config, device="cpu").eval(), 1, 16, mode="eager", fuse=fuse)


@pytest.mark.parametrize("fuse,per_block", [(True, 4), (False, 7)])
def test_the_profile_counts_each_steps_projections(fuse, per_block):
    # Fused: q/k/v one GEMV, gate/up one, o and down: 4 per block; unfused 7; plus the LM head.
    profile = profile_decode_steps(tiny_decoder(fuse), steps=5, start_position=3)
    assert profile["steps"] == 5 and profile["source"] == "top-level CPU operators"
    linear = next(r for r in profile["top"] if r["name"] == "aten::linear")
    assert linear["per_step"] == 3 * per_block + 1
    assert 0 < profile["busy_fraction"] <= 1


def test_a_profile_past_the_cache_or_of_no_steps_is_refused():
    decoder = tiny_decoder(True)
    with pytest.raises(ValueError, match="exceed the decoder's cache"):
        profile_decode_steps(decoder, steps=10, start_position=8)
    with pytest.raises(ValueError, match="at least 1"):
        profile_decode_steps(decoder, steps=0, start_position=0)


def tiny_model():
    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=2, vocab_size=64,
                         max_position_embeddings=64, tie_word_embeddings=False)
    torch.manual_seed(0)
    return build_model(config, device="cpu").eval()


@pytest.mark.parametrize("runner_class", [HFRunner, HFStaticRunner])
@pytest.mark.parametrize("steps", [1, 4])
def test_a_generate_profile_counts_its_decode_steps_and_not_the_prefill(runner_class, steps):
    """HF's block runs one GEMV per projection (7 a block) and generate the LM head on the last
    position only: 3 * 7 + 1 per decode step. The prefill's are as many again, so a window
    that took it in would count more per step, and more the fewer steps are profiled."""
    model = tiny_model()
    runner = runner_class(model, output_tokens=6)
    ids = torch.randint(3, 64, (2, 5), generator=torch.Generator().manual_seed(0))
    runner.prepare(2, 11)
    profile = profile_generate_steps(runner, ids, torch.ones_like(ids), steps)
    assert profile["steps"] == steps and profile["source"] == "top-level CPU operators"
    linear = next(r for r in profile["top"] if r["name"] == "aten::linear")
    assert linear["per_step"] == 3 * 7 + 1
    assert not any(r["name"].startswith("prunebench::") for r in profile["top"])
    assert 0 < profile["busy_fraction"] <= 1


def test_a_generate_profile_past_its_steps_or_without_its_marks_is_refused():
    runner = HFRunner(tiny_model(), output_tokens=4)
    ids = torch.ones((1, 3), dtype=torch.long)
    with pytest.raises(ValueError, match="4 steps exceed the 3 decode steps"):
        profile_generate_steps(runner, ids, torch.ones_like(ids), 4)
    with pytest.raises(ValueError, match="at least 1"):
        profile_generate_steps(runner, ids, torch.ones_like(ids), 0)

    class DropsItsClock(HFRunner):  # a backend whose per-token hook never runs
        def generate(self, input_ids, attention_mask, clock=None):
            return super().generate(input_ids, attention_mask)

    deaf = DropsItsClock(tiny_model(), output_tokens=4)
    with pytest.raises(RuntimeError, match="dropped .* of its two step marks"):
        profile_generate_steps(deaf, ids, torch.ones_like(ids), 2)
