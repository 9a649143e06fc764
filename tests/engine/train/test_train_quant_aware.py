"""Quantisation-aware steps: the rounding matches the audit's, the LoRA layers compute with the
rounded merged weight and pass gradients straight through, and a run records its rounded steps."""

from __future__ import annotations

import contextlib
import json

import pytest
import torch

from engine.train import TrainConfig, run_unlearning
from engine.train.config import ConfigError
from engine.train.quant_aware import (
    NF4_LEVELS,
    int8_round,
    nf4_round,
    rounded_lora,
    straight_through,
)


def _weights(rows: int = 48, cols: int = 160) -> torch.Tensor:
    torch.manual_seed(3)
    return torch.randn(rows, cols) * 0.02


def test_nf4_round_by_hand():
    # one block of 4: absmax 0.8; 0.3/0.8 = 0.375 lies between levels 0.3379 and 0.4407, nearer
    # the first; -0.05/0.8 = -0.0625 is nearer -0.0911 than 0
    w = torch.tensor([[0.8, 0.3, -0.05, 0.0]])
    got = nf4_round(w, block=4)
    want = torch.tensor([[0.8, NF4_LEVELS[11] * 0.8, NF4_LEVELS[6] * 0.8, 0.0]])
    assert torch.allclose(got, want)


def test_int8_round_by_hand():
    w = torch.tensor([[1.27, 0.5, -0.004]])  # scale 0.01 a level
    assert torch.allclose(int8_round(w), torch.tensor([[1.27, 0.5, 0.0]]))


def test_nf4_round_is_bitsandbytes_nf4_without_double_quantisation():
    """The format's blocks run over the values in memory order: bitsandbytes quantising the
    flattened tensor is the format exactly (its 2-D CPU path is checked apart, see below)."""
    bf = pytest.importorskip("bitsandbytes.functional")
    w = _weights()
    packed, state = bf.quantize_4bit(w.reshape(-1).contiguous(), blocksize=64,
                                     quant_type="nf4", compress_statistics=False)
    assert torch.equal(nf4_round(w), bf.dequantize_4bit(packed, state).reshape(w.shape))


def test_bitsandbytes_2d_nf4_path_follows_the_format_where_its_self_check_passes():
    """What a Linear4bit layer does (2-D weight, double-quantised scales): levels and error
    bound as the format says; skipped, with the measured figures, on CPUs where bitsandbytes'
    own path is out of bound (the audit then does not use it)."""
    pytest.importorskip("bitsandbytes.functional")
    from engine.audit.quantize import BACKEND_BNB, bnb_quantize_tensor, self_check
    from engine.quant_formats import check

    found = self_check(BACKEND_BNB, 4)
    if not found.passed:
        pytest.skip(f"bitsandbytes' 2-D nf4 path on this CPU: {found.describe()}")
    w = _weights()
    assert check(bnb_quantize_tensor(w, 4, flat=False), w, 4).passed


def test_int8_round_is_the_audits_8bit_weight():
    pytest.importorskip("bitsandbytes.functional")
    from engine.audit.quantize import bnb_quantize_tensor

    w = _weights()
    assert torch.allclose(int8_round(w), bnb_quantize_tensor(w, 8), rtol=1e-5, atol=1e-9)


def test_straight_through_rounds_forward_and_passes_gradients_unchanged():
    w = _weights().requires_grad_()
    out = straight_through(w, 4)
    assert torch.equal(out.detach(), nf4_round(w))
    (out * 3.0).sum().backward()
    assert torch.equal(w.grad, torch.full_like(w, 3.0))


def _peft_model(model_dir):
    from transformers import AutoModelForCausalLM

    from engine.train.loop import add_lora

    torch.manual_seed(0)
    model = add_lora(AutoModelForCausalLM.from_pretrained(model_dir), TrainConfig(lora_dropout=0))
    # peft starts B at zero, which would make the merged weight the base weight
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    return model.eval()


def _rounded_merged_copy(peft_model, bits):
    import copy

    from engine.audit.quantize import _round_linears_

    merged = copy.deepcopy(peft_model).merge_and_unload()
    _round_linears_(merged, nf4_round if bits == 4 else int8_round)
    return merged.eval()


@pytest.mark.parametrize("bits", [4, 8])
def test_rounded_lora_computes_like_the_rounded_merged_model(tiny_model_dir, bits):
    model = _peft_model(tiny_model_dir)
    ids = torch.tensor([[1, 5, 9, 200, 31, 7]])
    with torch.no_grad():
        plain = model(input_ids=ids).logits
        with model.disable_adapter():
            base = model(input_ids=ids).logits
        want = _rounded_merged_copy(model, bits)(input_ids=ids).logits
        with rounded_lora(model, bits) as changed:
            inside = model(input_ids=ids).logits
            with model.disable_adapter():
                reference = model(input_ids=ids).logits
        after = model(input_ids=ids).logits
    assert changed == 2 * 7  # two layers of q, k, v, o, gate, up, down
    assert torch.allclose(inside, want, atol=1e-5)
    assert not torch.allclose(inside, plain, atol=1e-5)
    assert torch.equal(reference, base), "the reference pass must stay full precision"
    assert torch.equal(after, plain), "the layers must compute as before after the block"


def test_rounded_lora_trains_the_adapter(tiny_model_dir):
    model = _peft_model(tiny_model_dir).train()
    ids = torch.tensor([[1, 5, 9, 200, 31, 7]])
    with rounded_lora(model, 4):
        model(input_ids=ids, labels=ids).loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if "lora_" in n]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


def test_rounded_lora_rejects_other_precisions(tiny_model_dir):
    with pytest.raises(ValueError, match="4 or 8 bits, got 3"), \
            rounded_lora(_peft_model(tiny_model_dir), 3):
        pass


def test_config_checks_and_keeps_old_fingerprints():
    assert "qat_bits" not in TrainConfig().to_dict()  # hashes of earlier runs still match
    cfg = TrainConfig(qat_bits=4, qat_every=3)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="qat_bits = 3"):
        TrainConfig(qat_bits=3)
    with pytest.raises(ConfigError, match="qat_every = 0"):
        TrainConfig(qat_bits=4, qat_every=0)
    with pytest.raises(ConfigError, match="QLoRA"):
        TrainConfig(qat_bits=4, quantization="4bit")


def test_a_run_counts_its_rounded_steps(tiny_model_dir, tiny_data, tmp_path):
    cfg = TrainConfig(method="relearn", epochs=1, batch_size=2, lr=1e-3, qat_bits=4, qat_every=2)
    run_unlearning(tiny_model_dir, tiny_data, cfg, tmp_path)
    epoch = json.loads((tmp_path / "run.json").read_text())["history"][0]
    assert epoch["steps"] >= 2
    assert epoch["rounded_steps"] == epoch["steps"] // 2
    assert all(v == v for v in epoch["step_losses"])  # no NaN from the rounded steps


def test_a_split_rounded_step_runs_the_retain_side_at_full_precision(tiny_model_dir, tiny_data,
                                                                    tmp_path, monkeypatch):
    """At qat_retain = false a rounded step is two passes: the forget side (relearn, values)
    with the rounded weights, the retain side (retain, neighbour) without; every step still
    has every term, and a plain step is one pass. At true a rounded step is one rounded pass."""
    import engine.train.loop as loop

    passes: list[tuple[frozenset[str], bool]] = []
    rounding = [False]
    plain_rounded, plain_forward = loop.rounded_lora, loop.Objective.forward

    @contextlib.contextmanager
    def rounded(model, bits):
        with plain_rounded(model, bits) as changed:
            rounding[0] = True
            yield changed
        rounding[0] = False

    def forward(self, input_ids, attention_mask, labels, slices, picks=None):
        passes.append((frozenset(slices), rounding[0]))
        return plain_forward(self, input_ids, attention_mask, labels, slices, picks)

    monkeypatch.setattr(loop, "rounded_lora", rounded)
    monkeypatch.setattr(loop.Objective, "forward", forward)
    forget, retain = frozenset({"relearn", "values"}), frozenset({"retain", "neighbour"})
    for qat_retain in (False, True):
        passes.clear()
        seen: list[dict[str, float]] = []
        cfg = TrainConfig(method="relearn", epochs=1, batch_size=2, lr=1e-3, qat_bits=4,
                          qat_every=2, neighbour_weight=1.0, value_weight=0.3,
                          qat_retain=qat_retain)
        run_unlearning(tiny_model_dir, tiny_data, cfg, tmp_path / str(qat_retain),
                       progress=lambda p, seen=seen: p.losses and seen.append(dict(p.losses)))
        steps = json.loads((tmp_path / str(qat_retain) / "run.json").read_text()
                           )["history"][0]["steps"]
        assert steps >= 2
        want: list[tuple[frozenset[str], bool]] = []
        for step in range(steps):
            if step % 2 == 0:
                want.append((forget | retain, False))
            elif qat_retain:
                want.append((forget | retain, True))
            else:
                want += [(forget, True), (retain, False)]
        assert passes == want
        for terms in seen:
            assert set(terms) >= {"relearn_ce", "retain_ce", "retain_kl", "neighbour_ce",
                                  "value_lp"}
            assert all(v == v for v in terms.values())


def test_only_relearn_leaves_the_retain_side_out_of_rounded_steps():
    assert "qat_retain" not in TrainConfig().to_dict()  # hashes of earlier runs still match
    assert TrainConfig(method="relearn", qat_bits=4, qat_retain=False).to_dict()["qat_retain"] \
        is False
    with pytest.raises(ConfigError, match="qat_retain = False"):
        TrainConfig(method="npo", qat_bits=4, qat_retain=False)
