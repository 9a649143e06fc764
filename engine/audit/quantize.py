"""The quantisation re-check: the audited model again, at 8-bit and 4-bit.

Unlearning that quantisation undoes is not unlearning (a fine-tune that only nudged weights by
less than a quantisation step comes back when they are rounded). The primary path is
bitsandbytes (LLM.int8 for 8-bit, nf4 for 4-bit) through transformers, which runs on CPU and
CUDA alike with bitsandbytes >= 0.45; where it cannot load or run, every Linear layer's weights
are rounded to nearest per group of 64 input weights (asymmetric, min/max scaled) and used in
float - the same numbers an int kernel would see.

Each quantised model is loaded fresh from the model's directory, so no second full-precision
copy is ever held next to it; the caller frees it after the leak probes.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from engine.models import LoadedModel, load_model

RTN_GROUP = 64
BACKEND_BNB = "bitsandbytes"
BACKEND_RTN = f"rtn-g{RTN_GROUP}"

log = logging.getLogger(__name__)


def rtn_quantize_tensor(weight: Any, bits: int, group_size: int = RTN_GROUP) -> Any:
    """Quantise-dequantise a 2-D weight row-wise in groups of ``group_size`` input columns.

    Each group maps its [min, max] onto ``2**bits`` levels (asymmetric, zero point rounded), so
    every returned value is one of those levels.
    """
    import torch

    if weight.dim() != 2:
        raise ValueError(f"expected a 2-D weight, got shape {tuple(weight.shape)}")
    if not 2 <= bits <= 8:
        raise ValueError(f"bits must be within 2..8, got {bits}")
    rows, cols = weight.shape
    pad = (-cols) % group_size
    w = weight.detach().float()
    if pad:
        # Padding repeats the row's last value so it never widens a group's range.
        w = torch.cat([w, w[:, -1:].expand(rows, pad)], dim=1)
    g = w.reshape(rows, -1, group_size)
    lo = g.amin(dim=-1, keepdim=True)
    hi = g.amax(dim=-1, keepdim=True)
    levels = 2**bits - 1
    scale = (hi - lo).clamp(min=1e-12) / levels
    zero = torch.round(-lo / scale)
    q = torch.clamp(torch.round(g / scale) + zero, 0, levels)
    deq = ((q - zero) * scale).reshape(rows, -1)[:, :cols]
    return deq.to(weight.dtype)


def rtn_quantize_(model: Any, bits: int, group_size: int = RTN_GROUP) -> int:
    """Round every Linear layer of ``model`` in place, except the output head (bitsandbytes leaves
    it in float too, and in tied models it is the embedding). Returns the layers changed."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    changed = 0
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and module is not head:
                module.weight.copy_(rtn_quantize_tensor(module.weight, bits, group_size))
                changed += 1
    return changed


def _load_bnb(spec: str | Path, bits: int) -> LoadedModel:
    import torch

    loaded = load_model(spec, quantization=f"{bits}bit")
    probe = torch.tensor([[loaded.tokenizer.eos_token_id or 0] * 4])
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logits = loaded.model(input_ids=probe.to(loaded.device)).logits
    if not torch.isfinite(logits).all():
        raise RuntimeError("non-finite logits from the bitsandbytes model")
    return loaded


def load_quantized(
    spec: str | Path, bits: int, *, backend: str = "auto"
) -> tuple[LoadedModel, str]:
    """Load the model at ``spec`` quantised to ``bits`` (8 or 4); returns it and the backend used.

    ``backend`` is ``"auto"`` (bitsandbytes, else round-to-nearest), ``"bitsandbytes"`` or
    ``"rtn"``.
    """
    if bits not in (4, 8):
        raise ValueError(f"quantisation re-check supports 8 and 4 bits, got {bits}")
    if backend not in ("auto", BACKEND_BNB, "rtn"):
        raise ValueError(f"unknown quantisation backend {backend!r} (auto, bitsandbytes, rtn)")
    if backend in ("auto", BACKEND_BNB):
        try:
            return _load_bnb(spec, bits), BACKEND_BNB
        except Exception as exc:  # bitsandbytes fails in many ways on unsupported hardware
            if backend == BACKEND_BNB:
                raise
            log.warning("bitsandbytes %d-bit unavailable (%s); using round-to-nearest", bits,
                        type(exc).__name__)
    loaded = load_model(spec)
    rtn_quantize_(loaded.model, bits)
    return loaded, BACKEND_RTN
