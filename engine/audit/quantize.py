"""The quantisation re-check: the audited model again, at 8-bit and 4-bit.

Unlearning that quantisation undoes is not unlearning (a fine-tune that only nudged weights by
less than a quantisation step comes back when they are rounded). Three backends:

- ``bitsandbytes``: the quantised model through transformers (LLM.int8 for 8-bit, nf4 with
  double quantisation for 4-bit), real int kernels. The default on CUDA.
- ``bnb-weights``: bitsandbytes' own quantisers applied to every Linear weight (nf4 in blocks of
  64 with double-quantised scales; int8 row-wise absmax), dequantised, and run in float: the
  weights the 4-bit kernel computes with, at full float speed. The default on CPU, where
  bitsandbytes' kernels are emulated and a k=10 leak pass took about 8 minutes per precision
  on SmolLM2-135M. (LLM.int8 also rounds activations; only its weight rounding is simulated.)
- ``rtn``: where bitsandbytes is missing, round-to-nearest per group of 64 input weights
  (asymmetric, min/max scaled), in float.

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
BACKEND_BNB_WEIGHTS = "bnb-weights"

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
    return _round_linears_(model, lambda w: rtn_quantize_tensor(w, bits, group_size))


def bnb_quantize_tensor(weight: Any, bits: int) -> Any:
    """``weight`` as bitsandbytes stores it at ``bits``, dequantised back to its dtype."""
    import bitsandbytes.functional as bf

    w = weight.detach().float().contiguous()
    if bits == 4:
        packed, state = bf.quantize_4bit(w, blocksize=RTN_GROUP, quant_type="nf4",
                                         compress_statistics=True)
        deq = bf.dequantize_4bit(packed, state)
    elif bits == 8:
        q, row_absmax, _ = bf.int8_vectorwise_quant(w)
        deq = q.float() * row_absmax.float()[:, None] / 127.0
    else:
        raise ValueError(f"bitsandbytes quantises to 8 or 4 bits, got {bits}")
    return deq.reshape(weight.shape).to(weight.dtype)


def _round_linears_(model: Any, rounded: Any) -> int:
    """Replace the weight of every Linear layer but the output head by ``rounded(weight)``;
    returns how many layers changed."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head]
    with torch.no_grad():
        for module in layers:
            module.weight.copy_(rounded(module.weight))
    return len(layers)


def bnb_weights_quantize_(model: Any, bits: int) -> int:
    """Replace every Linear weight but the output head by its bitsandbytes-quantised value."""
    return _round_linears_(model, lambda w: bnb_quantize_tensor(w, bits))


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

    ``backend`` is ``"auto"`` (real bitsandbytes kernels on CUDA, ``bnb-weights`` on CPU; either
    falls back to round-to-nearest where bitsandbytes fails), ``"bitsandbytes"``,
    ``"bnb-weights"`` or ``"rtn"``.
    """
    if bits not in (4, 8):
        raise ValueError(f"quantisation re-check supports 8 and 4 bits, got {bits}")
    if backend not in ("auto", BACKEND_BNB, BACKEND_BNB_WEIGHTS, "rtn"):
        raise ValueError(f"unknown quantisation backend {backend!r} "
                         "(auto, bitsandbytes, bnb-weights, rtn)")
    if backend == "auto":
        from engine.models import pick_device

        backend = BACKEND_BNB if pick_device("auto").type == "cuda" else BACKEND_BNB_WEIGHTS
        strict = False
    else:
        strict = True
    if backend == BACKEND_BNB:
        try:
            return _load_bnb(spec, bits), BACKEND_BNB
        except Exception as exc:  # bitsandbytes fails in many ways on unsupported hardware
            if strict:
                raise
            log.warning("bitsandbytes %d-bit unavailable (%s); using round-to-nearest", bits,
                        type(exc).__name__)
    loaded = load_model(spec)
    if backend == BACKEND_BNB_WEIGHTS:
        try:
            bnb_weights_quantize_(loaded.model, bits)
            return loaded, BACKEND_BNB_WEIGHTS
        except Exception as exc:  # no bitsandbytes, or its CPU quantisers are missing
            if strict:
                raise
            log.warning("bitsandbytes' %d-bit quantiser unavailable (%s); using "
                        "round-to-nearest", bits, type(exc).__name__)
            loaded = load_model(spec)
    rtn_quantize_(loaded.model, bits)
    return loaded, BACKEND_RTN
