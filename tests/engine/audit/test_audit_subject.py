"""The audit on the real subject model before unlearning: it must see the model still knows."""

from __future__ import annotations

import pytest

from engine.audit import AuditConfig, audit_model
from engine.audit.probes import forget_probes, retain_probes
from engine.pii import extract_private_values
from engine.types import Fact

SUBJECT = "Isabella Marquez"


@pytest.mark.slow
def test_subject_model_leaks_before_unlearning(subject_model_dir, sample_corpus):
    facts = []
    for i, qa in enumerate(q for q in sample_corpus if SUBJECT in q.question):
        values = extract_private_values(qa.question, qa.answer, SUBJECT)
        facts.append(Fact(f"f{i}", SUBJECT, qa.question, qa.answer, values))
    assert len(facts) == 6 and all(f.private_values for f in facts)
    others = [qa for qa in sample_corpus if "Tobias Lindqvist" in qa.question][:4]
    faq = [qa for qa in sample_corpus if "Larkspur" in qa.question][:2]
    probes = forget_probes("DSR-1", facts, []) + retain_probes(others, faq)
    config = AuditConfig(leak_samples=3, quant_bits=(4,), leak_groups=("forget_original",))
    figs = audit_model(subject_model_dir, probes, config)
    req, run = figs["DSR-1"], figs[""]
    # the deployed model answers its customers' facts: little is "forgotten", values leak
    assert req.kfr_original is not None and req.kfr_original <= 0.5
    assert req.kfr_basis == "forget_all"
    assert req.leak_rate is not None and req.leak_rate >= 0.5
    # rounding the weights to 4 bits does not make it forget either
    assert req.leak_rate_4bit is not None and req.leak_rate_4bit > 0
    assert run.krr is not None and run.krr >= 0.5
    assert run.ls is not None and 0 < run.ls < 1
    assert run.ppl is not None and run.ppl < 20  # its own answers, under itself
    assert run.private_probe_records  # the leaks, kept for the private store
    assert "isabella.marquez@example.org" not in str(run.to_dict())
