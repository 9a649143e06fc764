"""Quantisation-aware steps: the LoRA layers compute with their merged weight rounded as the
audit's quantisation re-check will round it.

The audit quantises the merged model to 4 bits. Where the adapter moved a weight by less than a
quantisation step, rounding moves it back, and a forgotten answer can return. On a
quantisation-aware step each LoRA layer computes ``x @ round(W + s B A)``, with the rounding's
gradient taken as the identity (straight-through), so the loss sees the rounded model and the
adapter learns changes that survive rounding. The rounding is torch's own version of what the
audit uses on CPU (bitsandbytes' NF4 in blocks of 64; int8 row-wise absmax), so it runs wherever
training runs, bitsandbytes or not. It is not faster: rounding all of SmolLM2-135M's layers took
about 4 s at one thread, bitsandbytes about 5 s.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

NF4_BLOCK = 64
# The 16 NF4 levels (Dettmers et al. 2023, QLoRA): quantiles of a standard normal, scaled to
# [-1, 1], with an exact zero.
NF4_LEVELS = (
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
)


def nf4_round(weight: torch.Tensor, block: int = NF4_BLOCK) -> torch.Tensor:
    """``weight`` stored as NF4 in blocks of ``block`` consecutive values (absmax scale per
    block) and read back, in its dtype. Scales are kept in float: bitsandbytes picks the levels
    with the float scales too and only then rounds the scales to 8 bits (double quantisation),
    so its values have the same levels, times a scale up to about 1% off."""
    w = weight.detach().float().reshape(-1)
    pad = (-w.numel()) % block
    if pad:
        w = torch.cat([w, w.new_zeros(pad)])
    g = w.reshape(-1, block)
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


def straight_through(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """The rounded weight in the forward pass, the identity in the backward pass."""
    return weight + (ROUNDERS[bits](weight) - weight).detach()


def _lora_layers(model: Any) -> list[Any]:
    from peft.tuners.lora import Linear as LoraLinear

    return [m for m in model.modules()
            if isinstance(m, LoraLinear) and isinstance(m.base_layer, torch.nn.Linear)]


def _rounded_forward(layer: Any, bits: int, plain: Any) -> Any:
    def forward(self: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        active = [a for a in self.active_adapters if a in self.lora_A]
        # the reference pass (adapter disabled) stays the full-precision model
        if self.disable_adapters or self.merged or not active:
            return plain(x, *args, **kwargs)
        base = self.base_layer
        weight = base.weight
        for name in active:
            weight = weight + (self.lora_B[name].weight @ self.lora_A[name].weight) \
                * self.scaling[name]
        rounded = straight_through(weight, bits)
        return F.linear(x, rounded.to(x.dtype),
                        None if base.bias is None else base.bias.to(x.dtype))

    return types.MethodType(forward, layer)


@contextlib.contextmanager
def rounded_lora(model: Any, bits: int) -> Iterator[int]:
    """Within the block, every LoRA Linear of ``model`` computes with its merged weight rounded
    to ``bits`` (4: NF4, 8: int8), straight-through. Yields the number of layers changed; on
    exit the layers compute as before."""
    if bits not in ROUNDERS:
        raise ValueError(f"quantisation-aware steps round to 4 or 8 bits, got {bits}")
    layers = _lora_layers(model)
    own = [layer.__dict__.get("forward") for layer in layers]  # a hook's wrapper, if any
    for layer in layers:
        layer.forward = _rounded_forward(layer, bits, layer.forward)
    try:
        yield len(layers)
    finally:
        for layer, before in zip(layers, own, strict=True):
            if before is None:
                del layer.forward
            else:
                layer.forward = before
