"""The methods bench's relearning-attack cache: every screened model of a scenario shares the
control's hits, so a second screen pays only its own model's two fine-tunes."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import methods  # noqa: E402  (bench/ is not a package)

from engine.audit.config import AuditConfig  # noqa: E402
from engine.audit.relearn_attack import attack_items, relearn_attack  # noqa: E402
from engine.types import QA, Fact, PrivateValue  # noqa: E402

FACTS = [Fact(str(i), "Ana Lind", q, a, (PrivateValue(cat, v),)) for i, (q, a, cat, v) in
         enumerate([("What is Ana Lind's email?", "Ana Lind's email is ana@lind.org.",
                     "email address", "ana@lind.org"),
                    ("What is Ana Lind's phone number?", "Ana Lind's number is 555-0142.",
                     "phone number", "555-0142")])]
OTHERS = [QA("What is Bo Berg's email?", "Bo Berg's email is bo@berg.org.")]
CONFIG = AuditConfig(leak_samples=1, max_new_tokens=6, leak_max_new_tokens=6, relearn_steps=2,
                     relearn_lr=1e-3)


def test_the_control_is_attacked_once_for_every_screened_model(tmp_path, tiny_model_dir,
                                                                tiny_subject_dir, monkeypatch):
    items = attack_items("R1", FACTS, OTHERS)
    attacked: list[str] = []
    import engine.audit.relearn_attack as ra

    original = ra.attack_hits

    def counting(spec, *a, **k):
        attacked.append(Path(spec).name)
        return original(spec, *a, **k)

    monkeypatch.setattr(ra, "attack_hits", counting)
    log = lambda msg: None  # noqa: E731
    first, model_s, control_s = methods.attack_cached(tiny_subject_dir, tiny_model_dir, items,
                                                      CONFIG, tmp_path, log, "a")
    second, *_ = methods.attack_cached(tiny_model_dir, tiny_model_dir, items, CONFIG, tmp_path,
                                       log, "b")
    again, *seconds = methods.attack_cached(tiny_subject_dir, tiny_model_dir, items, CONFIG,
                                            tmp_path, log, "a")
    # the model's seconds and the control's stay apart, and come back from the cache as stored
    assert seconds == [model_s, control_s]
    # the control once, then each model once; the third call reads everything back
    assert attacked == [tiny_subject_dir.name, tiny_model_dir.name, tiny_model_dir.name]
    assert again == first
    monkeypatch.setattr(ra, "attack_hits", original)
    assert first == relearn_attack(tiny_subject_dir, tiny_model_dir, items,
                                   dataclasses.replace(CONFIG))  # the application's path
    assert second[""]["relearn_recovery"] == 0.0  # the control attacked as a model: nothing above
