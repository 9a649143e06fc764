"""The re-check's formats and the self-check that decides whether bitsandbytes may stand in for
them; the bf16 switch and the hardware record that say what numbers were computed on."""

from __future__ import annotations

import logging

import pytest
import torch

from engine.audit import quantize
from engine.audit.quantize import (
    BACKEND_BNB_WEIGHTS,
    BACKEND_EXACT,
    QuantBackendError,
    load_quantized,
    rtn_quantize_tensor,
    self_check,
)
from engine.models import BF16_ENV, ModelError, bf16_decision, hardware
from engine.quant_formats import NF4_LEVELS, check, int8_round, nf4_round


def _weights(rows: int = 48, cols: int = 160) -> torch.Tensor:
    gen = torch.Generator().manual_seed(5)
    return torch.randn(rows, cols, generator=gen) * 0.02


@pytest.mark.parametrize("bits", [4, 8])
def test_the_exact_rounding_passes_its_own_check(bits):
    w = _weights()
    found = check(nf4_round(w) if bits == 4 else int8_round(w), w, bits)
    assert found.passed and found.agreement == 1.0 and found.max_error_ratio <= 1.0


@pytest.mark.parametrize("bits", [4, 8])
def test_round_to_nearest_is_not_the_format(bits):
    w = _weights()
    found = check(rtn_quantize_tensor(w, bits), w, bits)
    assert not found.passed and found.agreement < 0.5
    assert "FAILED" in found.describe()


def test_one_value_on_the_wrong_level_is_outside_the_agreement():
    w = _weights(64, 64)
    q = nf4_round(w).clone()
    block_max = w.reshape(-1)[:64].abs().max()
    # move a quarter of the first block one level up: a packing or rounding slip
    flat = q.reshape(-1)
    for i in range(0, 64, 4):
        lvl = min(range(16), key=lambda k: abs(NF4_LEVELS[k] * block_max - flat[i]))
        flat[i] = NF4_LEVELS[min(lvl + 1, 15)] * block_max if lvl < 15 else NF4_LEVELS[14] * \
            block_max
    found = check(q, w, 4)
    assert found.agreement < 0.999 and not found.passed


def test_double_quantised_scales_are_within_the_format():
    """A block scale stored a little off (bitsandbytes' 8-bit scales) keeps every level."""
    w = _weights(64, 64)
    q = nf4_round(w) * 1.006
    assert check(q, w, 4).passed


def test_self_check_catches_a_wrong_quantiser(monkeypatch):
    """A bitsandbytes that mis-rounds is refused: auto falls back to the exact format and says
    why; asked for by name, it is an error naming the way out."""
    def wrong(weight, bits, *, flat=True):
        return rtn_quantize_tensor(weight, bits)

    monkeypatch.setattr(quantize, "bnb_quantize_tensor", wrong)
    self_check.cache_clear()
    try:
        found = self_check(BACKEND_BNB_WEIGHTS, 4)
        assert not found.passed
        with pytest.raises(QuantBackendError, match="self-check FAILED"):
            quantize._checked(BACKEND_BNB_WEIGHTS, 4, "cpu")
    finally:
        self_check.cache_clear()


def test_auto_falls_back_to_the_exact_format_with_the_reason(monkeypatch, tiny_model_dir):
    monkeypatch.setattr(quantize, "bnb_quantize_tensor",
                        lambda weight, bits, *, flat=True: rtn_quantize_tensor(weight, bits))
    self_check.cache_clear()
    try:
        loaded, backend, note = load_quantized(tiny_model_dir, 4)
        assert backend == BACKEND_EXACT
        assert "self-check FAILED" in note
        with pytest.raises(QuantBackendError, match='quant_backend = "exact"'):
            load_quantized(tiny_model_dir, 4, backend=BACKEND_BNB_WEIGHTS)
    finally:
        self_check.cache_clear()
    w = loaded.model.get_submodule("model.layers.0.mlp.up_proj").weight
    assert len(set(w.reshape(-1)[:64].tolist())) <= 16


def test_a_layer_outside_the_format_is_refused(monkeypatch):
    """The known tensors pass but one real layer does not: the layer check catches it."""
    good = quantize.bnb_quantize_tensor

    def wrong_for_wide(weight, bits, *, flat=True):
        out = good(weight, bits, flat=flat)
        return out * 1.5 if weight.shape[1] > 1000 else out

    monkeypatch.setattr(quantize, "bnb_quantize_tensor", wrong_for_wide)
    model = torch.nn.Sequential(torch.nn.Linear(1200, 64))
    with pytest.raises(QuantBackendError, match="not the format"):
        quantize.bnb_weights_quantize_(model, 4)


def test_bitsandbytes_hub_kernel_notice_is_dropped(caplog):
    import engine  # noqa: F401  (installs the filter)

    log = logging.getLogger("bitsandbytes.backends.cpu.ops")
    with caplog.at_level(logging.WARNING):
        log.warning("Failed to load CPU gemm_4bit_forward from kernels-community: %s", "x")
        log.warning("something else")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["something else"]


def test_bf16_switch(monkeypatch):
    monkeypatch.setenv(BF16_ENV, "off")
    assert bf16_decision("cpu") == (False, f"{BF16_ENV}=off")
    monkeypatch.setenv(BF16_ENV, "ON")
    assert bf16_decision("cpu") == (True, f"{BF16_ENV}=on")
    # the run's own config setting wins over the machine-wide switch
    assert bf16_decision("cpu", False) == (False, "config autocast")
    monkeypatch.setenv(BF16_ENV, "maybe")
    with pytest.raises(ModelError, match=BF16_ENV):
        bf16_decision("cpu")
    monkeypatch.setenv(BF16_ENV, "auto")
    on, why = bf16_decision("cpu")
    assert isinstance(on, bool) and why.startswith("measured")


def test_hardware_names_the_cpu_features():
    hw = hardware("cpu")
    assert hw["device"] == "cpu"
    assert hw["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(hw["cpu_features"]) <= {"avx2", "avx512f", "avx512_bf16", "amx_bf16"}
    with open("/proc/cpuinfo") as fh:
        if " avx2" in fh.read():
            assert "avx2" in hw["cpu_features"]
