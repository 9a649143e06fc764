"""An optional stop at an epoch boundary, once a cheap check says more epochs would add nothing.

Off by default (``early_stop = false``): it changes what is trained, and the in-loop check is
weaker than the audit. It asks greedily only (the audit also samples k answers per probe at
temperature 1 and re-checks at 8 and 4 bits, where the sample deployment's last leaks were), so
a run stopped by it can fail an audit the full run would pass. The check passes when

- no greedy answer to a forget item (each fact's original question and every relearn question)
  shows any of the run's private values, and
- on a fixed set of retain rows, the answer cross-entropy under the adapter is at most
  ``early_stop_ce_ratio`` times the reference's (adapter off), and the mean per-token
  KL(p_ref || p_theta) at most ``early_stop_kl`` nats.

It runs after each epoch but the last. The stop is recorded in the epoch's history entry, and a
run resumed after it stays stopped (its checkpoint keeps no rows in training).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from engine.pii import contains_value
from engine.types import TrainData

RETAIN_ROWS = 32  # retain rows the CE and KL bounds are measured on (the stream's first ones)


@dataclass
class CheckResult:
    passed: bool
    leaking_answers: int
    answers: int
    retain_ce: float
    reference_ce: float
    retain_kl: float

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "leaking_answers": self.leaking_answers,
                "answers": self.answers, "retain_ce": round(self.retain_ce, 4),
                "reference_ce": round(self.reference_ce, 4),
                "retain_kl": round(self.retain_kl, 5)}


def private_values(data: TrainData) -> list[str]:
    """The run's private values: the marked spans of the ``values`` rows."""
    out: list[str] = []
    for qa in data.values:
        for s, e in qa.targets:
            v = qa.answer[s:e]
            if v.strip() and v not in out:
                out.append(v)
    return out


def forget_questions(data: TrainData) -> list[str]:
    seen: list[str] = []
    for qa in (*data.forget, *data.relearn):
        if qa.question not in seen:
            seen.append(qa.question)
    return seen


def check(model: Any, tokenizer: Any, data: TrainData, retain_ce_kl: Any, *,
          ce_ratio: float, kl_bound: float, batch_size: int = 32,
          max_new_tokens: int = 48) -> CheckResult:
    """Run the check on ``model`` (eval mode inside, train mode restored).

    ``retain_ce_kl()`` returns (CE under the adapter, CE of the reference, KL) on the fixed
    retain rows; the loop supplies it, since it owns the batches and the reference pass.
    """
    from engine.audit.generation import generate_batched

    values = private_values(data)
    questions = forget_questions(data)
    was_training = model.training
    model.eval()
    try:
        answers = generate_batched(model, tokenizer, questions, max_new_tokens=max_new_tokens,
                                   batch_size=batch_size)
        ce, ref_ce, kl = retain_ce_kl()
    finally:
        model.train(was_training)
    leaking = sum(1 for a in answers if any(contains_value(a, v) for v in values))
    passed = leaking == 0 and ce <= ce_ratio * ref_ce and kl <= kl_bound
    return CheckResult(passed, leaking, len(answers), ce, ref_ce, kl)


def retain_rows(n: int) -> Sequence[int]:
    return range(min(n, RETAIN_ROWS))


def ce_and_kl(outs: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
              ) -> tuple[float, float, float]:
    """Token-weighted CE (adapter), CE (reference) and KL from per-batch (logits, ref_logits,
    labels)."""
    import torch.nn.functional as F

    tokens = ce = ref = kl = 0.0
    for logits, ref_logits, labels in outs:
        n = labels.numel()
        if not n:
            continue
        log_q = F.log_softmax(logits.float(), dim=-1)
        log_p = F.log_softmax(ref_logits.float(), dim=-1)
        ce += float(F.nll_loss(log_q, labels, reduction="sum"))
        ref += float(F.nll_loss(log_p, labels, reduction="sum"))
        kl += float((log_p.exp() * (log_p - log_q)).sum())
        tokens += n
    if not tokens:
        return 0.0, 0.0, 0.0
    return ce / tokens, ref / tokens, kl / tokens
