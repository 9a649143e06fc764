"""The quantisation re-check: the audited model again, at 8-bit and 4-bit.

Unlearning that quantisation undoes is not unlearning (a fine-tune that only nudged weights by
less than a quantisation step comes back when they are rounded). Four backends:

- ``bitsandbytes``: the quantised model through transformers (LLM.int8 for 8-bit, nf4 with
  double quantisation for 4-bit), real int kernels. The default on CUDA.
- ``bnb-weights``: bitsandbytes' own quantisers applied to every Linear weight (nf4 in blocks of
  64 with double-quantised scales; int8 row-wise absmax), dequantised, and run in float: the
  weights the 4-bit kernel computes with, at full float speed. The default on CPU, where
  bitsandbytes' kernels are emulated and a k=10 leak pass took about 8 minutes per precision
  on SmolLM2-135M. (LLM.int8 also rounds activations; only its weight rounding is simulated.)
- ``exact``: the formats written out in torch (:mod:`engine.quant_formats`), the same levels
  with the block scales kept in float. What ``auto`` falls back to when bitsandbytes is missing
  or fails its self-check.
- ``rtn``: round-to-nearest per group of 64 input weights (asymmetric, min/max scaled): not
  the deployed formats, only on request.

bitsandbytes is trusted only after it proves itself on this machine: :func:`self_check`
quantises known tensors (one whose rows do not align with the 64-value blocks) and measures the
result against the exact format; ``bnb-weights`` also measures every layer it rounds. On one
AVX-512 CPU, bitsandbytes 0.50.2's 2-D nf4 path put a 48x160 tensor four times outside NF4's
error bound; ``bnb-weights`` quantises each weight flattened, which the same CPU gets right, and
the kernel backend is refused there. The backend used and why are part of the audit's figures.

Each quantised model is loaded fresh from the model's directory, so no second full-precision
copy is ever held next to it; the caller frees it after the leak probes.
"""

from __future__ import annotations

import logging
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from engine.audit.config import QUANT_BACKENDS
from engine.models import LoadedModel, load_model
from engine.quant_formats import ROUNDERS, FormatCheck, check

RTN_GROUP = 64
BACKEND_BNB = "bitsandbytes"
BACKEND_RTN = f"rtn-g{RTN_GROUP}"
BACKEND_BNB_WEIGHTS = "bnb-weights"
BACKEND_EXACT = "exact"
# what ``quant_backend`` may be set to (``rtn`` is reported as BACKEND_RTN)
BACKENDS = QUANT_BACKENDS


class QuantBackendError(RuntimeError):
    """A quantisation backend that is missing, or whose output is not the format."""


class Quantised(NamedTuple):
    """A quantised model, the backend that made it, and why that one (with its self-check)."""

    loaded: LoadedModel
    backend: str
    note: str

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


def bnb_quantize_tensor(weight: Any, bits: int, *, flat: bool = True) -> Any:
    """``weight`` as bitsandbytes stores it at ``bits``, dequantised back to its dtype.

    The 4-bit format's blocks run over the weight's values in memory order, so quantising it
    flattened (``flat``) stores the same thing; it also avoids the 2-D CPU path that mis-rounds
    on some CPUs. ``flat=False`` is the call a ``Linear4bit`` layer makes."""
    import bitsandbytes.functional as bf

    w = weight.detach().float().contiguous()
    if bits == 4:
        packed, state = bf.quantize_4bit(w.reshape(-1) if flat else w, blocksize=RTN_GROUP,
                                         quant_type="nf4", compress_statistics=True)
        deq = bf.dequantize_4bit(packed, state)
    elif bits == 8:
        q, row_absmax, _ = bf.int8_vectorwise_quant(w)
        deq = q.float() * row_absmax.float()[:, None] / 127.0
    else:
        raise ValueError(f"bitsandbytes quantises to 8 or 4 bits, got {bits}")
    return deq.reshape(weight.shape).to(weight.dtype)


def _known_weights(device: Any) -> list[Any]:
    """The self-check's tensors: weight-like values, one shape whose rows straddle the 64-value
    blocks (48x160: where a wrong CPU path was seen) and one that aligns, with a few outliers
    so that blocks with very different scales sit side by side."""
    import torch

    gen = torch.Generator().manual_seed(3)
    straddling = torch.randn(48, 160, generator=gen) * 0.02
    aligned = torch.randn(64, 576, generator=gen) * 0.02
    aligned[::7, ::13] *= 20.0
    return [straddling.to(device), aligned.to(device)]


@lru_cache(maxsize=16)
def self_check(backend: str, bits: int, device_type: str = "cpu") -> FormatCheck:
    """Quantise the known tensors as ``backend`` does on ``device_type`` and measure them
    against the exact format: the worst error ratio and the lowest agreement of the tensors.
    Raises :class:`QuantBackendError` when bitsandbytes cannot run at all."""
    if backend not in (BACKEND_BNB, BACKEND_BNB_WEIGHTS):
        raise ValueError(f"only bitsandbytes backends are self-checked, not {backend!r}")
    try:
        results = [check(bnb_quantize_tensor(w, bits, flat=backend == BACKEND_BNB_WEIGHTS)
                         .cpu(), w.cpu(), bits)
                   for w in _known_weights(device_type)]
    except Exception as exc:  # missing package or native library, unsupported device
        raise QuantBackendError(f"bitsandbytes' {bits}-bit quantiser does not run here "
                                f"({type(exc).__name__}: {exc})") from exc
    return FormatCheck(bits=bits, values=sum(r.values for r in results),
                       max_error_ratio=max(r.max_error_ratio for r in results),
                       agreement=min(r.agreement for r in results))


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
    """Replace every Linear weight but the output head by its bitsandbytes-quantised value,
    each measured against the exact format; raises :class:`QuantBackendError` (the model then
    half-rounded: load it again) if any layer is outside it."""
    def rounded(w: Any) -> Any:
        q = bnb_quantize_tensor(w, bits)
        found = check(q, w, bits)
        if not found.passed:
            raise QuantBackendError(f"bitsandbytes' {bits}-bit weights of a {tuple(w.shape)} "
                                    f"layer are not the format ({found.describe()})")
        return q

    return _round_linears_(model, rounded)


def exact_quantize_(model: Any, bits: int) -> int:
    """Replace every Linear weight but the output head by its exact-format rounding."""
    return _round_linears_(model, ROUNDERS[bits])


def _load_bnb(spec: str | Path, bits: int) -> LoadedModel:
    import torch

    loaded = load_model(spec, quantization=f"{bits}bit")
    probe = torch.tensor([[loaded.tokenizer.eos_token_id or 0] * 4])
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logits = loaded.model(input_ids=probe.to(loaded.device)).logits
    if not torch.isfinite(logits).all():
        raise QuantBackendError("non-finite logits from the bitsandbytes model")
    return loaded


def _checked(backend: str, bits: int, device_type: str) -> str:
    """The self-check's description if ``backend`` passes it; else QuantBackendError."""
    found = self_check(backend, bits, device_type)
    if not found.passed:
        raise QuantBackendError(f"{backend} {bits}-bit {found.describe()}")
    return found.describe()


def load_quantized(spec: str | Path, bits: int, *, backend: str = "auto") -> Quantised:
    """Load the model at ``spec`` quantised to ``bits`` (8 or 4) with the backend used and why.

    ``backend`` is ``"auto"`` (real bitsandbytes kernels on CUDA, ``bnb-weights`` on CPU, each
    only after its self-check; else ``exact``), or one of :data:`BACKENDS`, which is used or
    refused with :class:`QuantBackendError`, never swapped.
    """
    if bits not in (4, 8):
        raise ValueError(f"quantisation re-check supports 8 and 4 bits, got {bits}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown quantisation backend {backend!r} ({', '.join(BACKENDS)})")
    if backend == "rtn":
        loaded = load_model(spec)
        rtn_quantize_(loaded.model, bits)
        return Quantised(loaded, BACKEND_RTN, "round-to-nearest in groups of 64, as configured")
    if backend == BACKEND_EXACT:
        loaded = load_model(spec)
        exact_quantize_(loaded.model, bits)
        return Quantised(loaded, BACKEND_EXACT, "the exact format in torch, as configured")
    from engine.models import pick_device

    device_type = pick_device("auto").type
    if backend != "auto":
        tried = [backend]
    elif device_type == "cuda":
        tried = [BACKEND_BNB, BACKEND_BNB_WEIGHTS]
    else:
        tried = [BACKEND_BNB_WEIGHTS]
    refused: list[str] = []
    for name in tried:
        try:
            note = _checked(name, bits, device_type)
            if name == BACKEND_BNB:
                return Quantised(_load_bnb(spec, bits), name, note)
            loaded = load_model(spec)
            bnb_weights_quantize_(loaded.model, bits)
            return Quantised(loaded, name, f"{note}; every layer within the bound")
        except QuantBackendError as exc:
            if backend != "auto":
                raise QuantBackendError(
                    f"{exc}; set [audit] quant_backend = \"exact\" (or \"auto\") to re-check "
                    "with the exact format instead") from exc
            log.warning("quantisation re-check: %s; trying the next backend", exc)
            refused.append(str(exc))
    loaded = load_model(spec)
    exact_quantize_(loaded.model, bits)
    return Quantised(loaded, BACKEND_EXACT,
                     "the exact format in torch, because " + "; ".join(refused))
