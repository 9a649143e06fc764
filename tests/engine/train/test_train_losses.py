"""The loss terms on hand-made logits, against their formulas written out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from engine.train.losses import (
    StreamOut,
    ce,
    kl_to_reference,
    memorisation_accuracy,
    npo,
    sequence_logprob,
)


def _out(logits, labels, rows, n_rows, ref=None) -> StreamOut:
    return StreamOut(torch.tensor(logits, dtype=torch.float32), torch.tensor(labels),
                     torch.tensor(rows), n_rows,
                     None if ref is None else torch.tensor(ref, dtype=torch.float32))


def _logp(row, k):
    z = sum(math.exp(v) for v in row)
    return row[k] - math.log(z)


LOGITS = [[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, 0.0, 3.0]]
LABELS = [0, 1, 1]
ROWS = [0, 0, 1]


def test_ce_is_mean_token_nll():
    want = -sum(_logp(r, k) for r, k in zip(LOGITS, LABELS, strict=True)) / 3
    assert ce(_out(LOGITS, LABELS, ROWS, 2)).item() == pytest.approx(want, rel=1e-6)


def test_sequence_logprob_sums_tokens_per_row():
    out = _out(LOGITS, LABELS, ROWS, 2)
    got = sequence_logprob(out.logits, out).tolist()
    assert got[0] == pytest.approx(_logp(LOGITS[0], 0) + _logp(LOGITS[1], 1), rel=1e-6)
    assert got[1] == pytest.approx(_logp(LOGITS[2], 1), rel=1e-6)


def test_kl_is_zero_against_itself_and_matches_the_formula():
    same = _out(LOGITS, LABELS, ROWS, 2, ref=LOGITS)
    assert kl_to_reference(same).item() == pytest.approx(0.0, abs=1e-7)
    ref = [[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [2.0, -1.0, 0.0]]
    want = 0.0
    for q_row, p_row in zip(LOGITS, ref, strict=True):
        for v in range(3):
            lp, lq = _logp(p_row, v), _logp(q_row, v)
            want += math.exp(lp) * (lp - lq)
    got = kl_to_reference(_out(LOGITS, LABELS, ROWS, 2, ref=ref)).item()
    assert got == pytest.approx(want / 3, rel=1e-5)
    assert got > 0


def test_npo_formula_and_its_value_at_the_reference():
    beta = 0.1
    ref = [[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [2.0, -1.0, 0.0]]
    out = _out(LOGITS, LABELS, ROWS, 2, ref=ref)
    ratios = [
        (_logp(LOGITS[0], 0) + _logp(LOGITS[1], 1)) - (_logp(ref[0], 0) + _logp(ref[1], 1)),
        _logp(LOGITS[2], 1) - _logp(ref[2], 1),
    ]
    want = -(2 / beta) * sum(math.log(1 / (1 + math.exp(beta * r))) for r in ratios) / 2
    assert npo(out, beta).item() == pytest.approx(want, rel=1e-5)
    # at p_theta == p_ref the loss is (2/beta) log 2, and pushing p_theta down lowers it
    at_ref = _out(LOGITS, LABELS, ROWS, 2, ref=LOGITS)
    assert npo(at_ref, beta).item() == pytest.approx(2 / beta * math.log(2), rel=1e-6)
    lower = [[r[0] - 5, *r[1:]] if k == 0 else r for r, k in zip(LOGITS, LABELS, strict=True)]
    assert npo(_out(lower, LABELS, ROWS, 2, ref=LOGITS), beta).item() < 2 / beta * math.log(2)


def test_memorisation_accuracy_per_row():
    # argmaxes are 0, 1, 2 against labels 0, 1, 1: row 0 all right, row 1 wrong
    acc = memorisation_accuracy(_out(LOGITS, LABELS, ROWS, 2)).tolist()
    assert acc == [1.0, 0.0]


def test_empty_stream_gives_zero_connected_to_the_graph():
    logits = torch.zeros(0, 3, requires_grad=True)
    out = StreamOut(logits, torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long),
                    0, torch.zeros(0, 3))
    for value in (ce(out), kl_to_reference(out), npo(out, 0.1)):
        assert value.item() == 0.0 and value.requires_grad
