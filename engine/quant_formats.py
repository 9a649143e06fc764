"""The two weight formats the audit re-checks at, written out exactly: NF4 in blocks of 64
(4-bit) and int8 with a row-wise absmax scale (8-bit, LLM.int8's weight format).

Both the audit's quantisation re-check and the quantisation-aware training steps need a
rounding that provably follows the format on every machine. bitsandbytes' CPU path does not
everywhere: on an AVX-512 CPU its 2-D nf4 path gave a 48x160 tensor four times the format's
error bound (only 12% of the values on the right level), while the same call on the flattened
tensor was exact. So the formats are written here in torch, and :func:`check` measures any
other quantiser's output against them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

NF4_BLOCK = 64
# The 16 NF4 levels (Dettmers et al. 2023, QLoRA): quantiles of a standard normal, scaled to
# [-1, 1], with an exact zero.
NF4_LEVELS = (
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
)
# Worst rounding error of NF4, as a share of the block's absmax: half the widest gap.
NF4_HALF_GAP = max(b - a for a, b in itertools.pairwise(NF4_LEVELS)) / 2
# bitsandbytes' double quantisation stores the block scales in 8 bits, in groups of 256 blocks
# (their mean subtracted): the level is picked with the float scale, then read back with a
# scale off by up to about 0.6% of its group's largest scale (measured: 17% of a small scale
# beside large ones). The bound allows 2% of the group's largest.
SCALE_TOLERANCE = 0.02
SCALE_GROUP = 256
# Share of values that must sit on the exact rounding's level (ties at a midpoint may go
# either way in another implementation; a wrong quantiser misses far more).
MIN_AGREEMENT = 0.999


def _blocks(weight: torch.Tensor, block: int) -> torch.Tensor:
    w = weight.detach().float().reshape(-1)
    pad = (-w.numel()) % block
    if pad:
        w = torch.cat([w, w.new_zeros(pad)])
    return w.reshape(-1, block)


def nf4_round(weight: torch.Tensor, block: int = NF4_BLOCK) -> torch.Tensor:
    """``weight`` stored as NF4 in blocks of ``block`` consecutive values (absmax scale per
    block) and read back, in its dtype. Scales are kept in float: bitsandbytes picks the levels
    with the float scales too and only then rounds the scales to 8 bits (double quantisation),
    so its values have the same levels, times a scale up to about 1% off."""
    g = _blocks(weight, block)
    absmax = g.abs().amax(dim=1, keepdim=True).clamp(min=1e-12)
    levels = torch.tensor(NF4_LEVELS, dtype=g.dtype, device=g.device)
    mids = (levels[1:] + levels[:-1]) / 2
    idx = torch.bucketize(g / absmax, mids)
    deq = (levels[idx] * absmax).reshape(-1)
    return deq[: weight.numel()].reshape(weight.shape).to(weight.dtype)


def int8_round(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` as int8 with a row-wise absmax scale (LLM.int8's weight format), read back."""
    w = weight.detach().float()
    scale = w.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
    return (torch.round(w / scale).clamp(-127, 127) * scale).to(weight.dtype)


ROUNDERS = {4: nf4_round, 8: int8_round}


@dataclass(frozen=True)
class FormatCheck:
    """How far a quantiser's output is from the format, on one tensor.

    ``agreement``: the share of values on the level the exact rounding picks (NF4: times the
    block's scale as stored, read from the block's largest value). ``max_error_ratio``: the
    worst ``|q - w|`` over the format's bound for that value (NF4: half the widest level gap
    times the block's absmax, plus the scale tolerance; int8: half a step); at most 1 passes."""

    bits: int
    values: int
    max_error_ratio: float
    agreement: float

    @property
    def passed(self) -> bool:
        return self.max_error_ratio <= 1.0 and self.agreement >= MIN_AGREEMENT

    @property
    def format_name(self) -> str:
        return "NF4" if self.bits == 4 else "int8"

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (f"self-check {verdict}: {self.values} values, worst error "
                f"{self.max_error_ratio:.2f} of the {self.format_name} bound, "
                f"{self.agreement:.1%} on the exact level")


def _nf4_check(q: torch.Tensor, w: torch.Tensor) -> tuple[float, float]:
    gw, gq = _blocks(w, NF4_BLOCK), _blocks(q, NF4_BLOCK)
    absmax, at = gw.abs().max(dim=1, keepdim=True)
    stored = gq.gather(1, at).abs()  # the largest value sits on level +-1: its scale
    groups = torch.cat([absmax.reshape(-1), absmax.new_zeros((-absmax.numel()) % SCALE_GROUP)])
    group_max = groups.reshape(-1, SCALE_GROUP).amax(dim=1, keepdim=True)
    group_max = group_max.expand(-1, SCALE_GROUP).reshape(-1)[: absmax.numel()].reshape(-1, 1)
    levels = torch.tensor(NF4_LEVELS, dtype=gw.dtype)
    idx = torch.bucketize(gw / absmax.clamp(min=1e-12), (levels[1:] + levels[:-1]) / 2)
    tiny = 1e-9
    on_level = (gq - levels[idx] * stored).abs() <= stored * 1e-5 + tiny
    bound = (absmax * NF4_HALF_GAP + group_max * SCALE_TOLERANCE) * (1 + 1e-4) + tiny
    n = w.numel()
    ratio = ((gq - gw).abs() / bound).reshape(-1)[:n].max().item()
    return ratio, on_level.reshape(-1)[:n].float().mean().item()


def _int8_check(q: torch.Tensor, w: torch.Tensor) -> tuple[float, float]:
    step = w.abs().amax(dim=1, keepdim=True) / 127.0
    tiny = 1e-9
    ratio = ((q - w).abs() / (step / 2 * (1 + 1e-4) + tiny)).max().item()
    agree = ((q - int8_round(w)).abs() <= step * 1e-3 + tiny).float().mean().item()
    return ratio, agree


def check(quantised: torch.Tensor, weight: torch.Tensor, bits: int) -> FormatCheck:
    """Measure ``quantised`` (a dequantised copy of ``weight``) against the ``bits`` format."""
    if bits not in ROUNDERS:
        raise ValueError(f"the formats are 4-bit NF4 and 8-bit int8, got {bits}")
    if quantised.shape != weight.shape:
        raise ValueError(f"quantised shape {tuple(quantised.shape)} is not the weight's "
                         f"{tuple(weight.shape)}")
    if not weight.numel():
        return FormatCheck(bits=bits, values=0, max_error_ratio=0.0, agreement=1.0)
    q = quantised.detach().float().cpu()
    w = weight.detach().float().cpu()
    ratio, agree = (_nf4_check if bits == 4 else _int8_check)(q, w)
    return FormatCheck(bits=bits, values=w.numel(), max_error_ratio=ratio, agreement=agree)
