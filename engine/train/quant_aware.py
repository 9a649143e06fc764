"""Quantisation-aware steps: the LoRA layers compute with their merged weight rounded as the
audit's quantisation re-check will round it.

The audit quantises the merged model to 4 bits. Where the adapter moved a weight by less than a
quantisation step, rounding moves it back, and a forgotten answer can return. On a
quantisation-aware step each LoRA layer computes ``x @ round(W + s B A)``, with the rounding's
gradient taken as the identity (straight-through), so the loss sees the rounded model and the
adapter learns changes that survive rounding. The rounding is the formats' exact torch version
(:mod:`engine.quant_formats`: NF4 in blocks of 64; int8 row-wise absmax), the one every audit
backend is checked against, so it runs wherever training runs, bitsandbytes or not. It is not
faster: rounding all of SmolLM2-135M's layers took about 4 s at one thread, bitsandbytes about
5 s.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

from engine.quant_formats import NF4_BLOCK, NF4_LEVELS, ROUNDERS, int8_round, nf4_round

# the formats themselves live in engine.quant_formats, shared with the audit's re-check
__all__ = ["NF4_BLOCK", "NF4_LEVELS", "ROUNDERS", "int8_round", "nf4_round", "rounded_lora",
           "straight_through"]


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
