"""The benchmark's sampled decoding: one definition for both backends.

The study timed generation while sampling (top-k 50, top-p 0.95, temperature 1). The `hf`
backend hands these settings to HF `generate`; the `compiled` backend (benchmark.compiled) applies
the same filters itself, as tensor operations inside its decode step, so the sampled token never
leaves the device: no `.item()`, no branch on a value, nothing that would stop a CUDA graph or
synchronise the host.

The filters reproduce HF's warpers in HF's order (temperature, then top-k, then top-p), on
float32 scores as `generate` uses, so both backends draw from the same set of tokens at every
step. The draw itself is the exponential race: argmax over probs / E with E ~ Exponential(1)
picks token i with probability probs[i] (it is the Gumbel-max trick in another form), and needs
only elementwise work and one argmax.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from prunebench import PrunebenchError


@dataclass(frozen=True)
class Sampling:
    """Top-k / top-p / temperature sampling, HF's meaning: top_k 0 and top_p 1 switch a filter
    off; a top-k cut keeps every token tied with the k-th score."""

    top_k: int = 50
    top_p: float = 0.95
    temperature: float = 1.0

    def __post_init__(self):
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 0:
            raise PrunebenchError(f"sampling top_k must be an integer >= 0 (0: no top-k cut), "
                                  f"not {self.top_k!r}")
        if not 0 < self.top_p <= 1:
            raise PrunebenchError(f"sampling top_p must be in (0, 1] (1: no top-p cut), not "
                                  f"{self.top_p!r}")
        if not self.temperature > 0:
            raise PrunebenchError(f"sampling temperature must be positive, not "
                                  f"{self.temperature!r}; for greedy decoding turn sampling off")

    def as_dict(self) -> dict:
        return asdict(self)

    def hf_kwargs(self) -> dict:
        """`generate` keyword arguments that make HF sample with exactly these filters."""
        return dict(do_sample=True, **self.as_dict())


# What the study timed with (Kim et al. 2024): both backends sample with it when sampling is on.
STUDY_SAMPLING = Sampling(top_k=50, top_p=0.95, temperature=1.0)


def filter_logits(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """[..., V] scores -> float32 scores with -inf outside the top-k / top-p support."""
    scores = logits.to(torch.float32)
    if sampling.temperature != 1.0:  # HF skips the division at 1.0; so do we (same bits)
        scores = scores / sampling.temperature
    if sampling.top_k:
        k = min(sampling.top_k, scores.shape[-1])
        kth = scores.topk(k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if sampling.top_p < 1.0:
        # Ascending sort: a token goes when the mass of it and everything less likely is at most
        # 1 - top_p; the most likely token always stays. Same sort and sums as HF's warper, so
        # ties and rounding at the cut fall the same way.
        sorted_scores, order = scores.sort(dim=-1, descending=False)
        cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        drop_sorted = cumulative <= 1 - sampling.top_p
        drop_sorted[..., -1:] = False
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        scores = scores.masked_fill(drop, float("-inf"))
    return scores


def exponential_noise(shape: tuple[int, ...], generator: torch.Generator,
                      device: torch.device | str) -> torch.Tensor:
    """Exponential(1) draws for `sample`, from `generator` (on the device: no host round trip).

    Clamped away from 0 so that probs / noise is never 0 / 0 (NaN, which argmax would pick).
    """
    noise = torch.empty(shape, dtype=torch.float32, device=device)
    return noise.exponential_(generator=generator).clamp_min_(torch.finfo(torch.float32).tiny)


def sample(logits: torch.Tensor, noise: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """[B, V] scores, [B, V] Exponential(1) noise -> [B, 1] sampled token ids, on the device.

    Tokens outside the support have probability exactly 0, so 0 / noise = 0 loses to every
    token inside it (probability > 0): a token outside the support is never drawn.
    """
    probs = filter_logits(logits, sampling).softmax(dim=-1)
    return (probs / noise).argmax(dim=-1, keepdim=True)
