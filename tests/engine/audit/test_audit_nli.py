"""The optional NLI judge: loading a local checkpoint, label mapping, and its place in verdicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.audit import AuditConfig, audit_model
from engine.audit.judge import CONTRADICTION, NliJudge
from engine.types import Probe


def embed(texts):
    out = []
    for t in texts:
        v = np.random.default_rng(abs(hash(t)) % (2**32)).normal(size=32)
        out.append(v / np.linalg.norm(v))
    return np.array(out)


def test_labels_come_from_the_checkpoint(tiny_nli_dir):
    judge = NliJudge(tiny_nli_dir)
    labels = judge.labels_for(["The sky is blue.", "Paris is in France.", "a"],
                              ["The sky is green.", "Paris is a city.", "b"])
    assert len(labels) == 3
    assert set(labels) <= {"entailment", "neutral", CONTRADICTION}


def test_checkpoint_without_contradiction_label_is_refused(tiny_nli_dir, tmp_path):
    import shutil

    bad = tmp_path / "nli"
    shutil.copytree(tiny_nli_dir, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["id2label"] = {"0": "yes", "1": "no", "2": "maybe"}
    cfg["label2id"] = {"yes": 0, "no": 1, "maybe": 2}
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="no contradiction label"):
        NliJudge(bad)
    with pytest.raises(ValueError, match=r"no config\.json"):
        NliJudge(tmp_path / "missing")


def test_audit_asks_nli_in_the_design_direction(chatty_tiny_dir, tiny_nli_dir):
    """forget: NLI(premise=output, hypothesis=truth); retain: NLI(truth, output)."""
    from engine.audit import generate_batched
    from engine.models import load_model

    probes = [
        Probe("forget_original", "What is Ana's email?", "Ana's email is ana@example.org.", "R",
              ("ana@example.org",)),
        Probe("forget_heldout", "How can I email Ana?", "Ana's email is ana@example.org.", "R",
              ("ana@example.org",)),
        Probe("retain_subjects", "Where does Bo live?", "Bo lives at 9 Cedar Court, Millbrook."),
        Probe("retain_generic", "Where is the head office?",
              "The head office is at 12 Main Street, Denver."),
    ]
    config = AuditConfig(max_new_tokens=8, leak_samples=0, quant_bits=(), nli_model=tiny_nli_dir,
                         use_presidio=False)
    figs = audit_model(chatty_tiny_dir, probes, config, embedder=embed)
    run = figs[""]
    assert run.nli_used and run.judge.startswith("NLI (tiny-nli)")

    lm = load_model(chatty_tiny_dir, device="cpu")
    outputs = generate_batched(lm.model, lm.tokenizer, [p.question for p in probes],
                               max_new_tokens=8)
    judge = NliJudge(tiny_nli_dir)
    expected = [
        judge.labels_for([o], [p.truth])[0] if p.group.startswith("forget")
        else judge.labels_for([p.truth], [o])[0]
        for p, o in zip(probes, outputs, strict=True)
    ]
    for p, label in zip(probes, expected, strict=True):
        assert run.groups[p.group].nli_contradictions == int(label == CONTRADICTION)
    # the random model shares no entity with any truth (E = 0): retain probes all fail, and
    # their records carry the label the judge gave
    records = {r.question: r for r in run.private_probe_records}
    for p, label in zip(probes[2:], expected[2:], strict=True):
        assert records[p.question].verdict == "not retained"
        assert records[p.question].nli_label == label
    assert run.kfr == 1.0 and run.krr == 0.0
