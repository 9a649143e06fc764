"""Building probes from a request's facts and variants."""

from __future__ import annotations

from engine.audit import forget_probes, own_probes, retain_probes
from engine.types import QA, Fact, PrivateValue, Variant

FACT = Fact("f1", "Ana Lind", "What is Ana Lind's email?", "Ana Lind's email is ana@example.org.",
            (PrivateValue("email address", "ana@example.org"),))


def v(kind: str, question: str, held_out: bool = False) -> Variant:
    return Variant("f1", kind, question, "Ana keeps her email private.", "offline", 0, held_out)


VARIANTS = [
    v("simple", "Can I have Ana Lind's email?"),
    v("contextual", "For the invoice, what is Ana's email?"),
    v("noise", "whats ana linds mail"),
    v("logical", "Whose email is ana@example.org?", held_out=True),
    v("simple", "Ana Lind's e-mail address, please?", held_out=True),
    v("completion", "Ana Lind's"),
]


def test_forget_probes_by_group_with_the_original_truth():
    probes = forget_probes("DSR-1", [FACT], VARIANTS)
    groups = [p.group for p in probes]
    assert groups.count("forget_original") == 1
    assert groups.count("forget_trained") == 3      # the completion item is not a question
    assert groups.count("forget_heldout") == 2
    assert all(p.truth == FACT.answer for p in probes)
    assert all(p.private_values == ("ana@example.org",) for p in probes)
    assert all(p.request_key == "DSR-1" for p in probes)


def test_trained_probes_are_capped_to_the_first_of_each_fact():
    a = forget_probes("DSR-1", [FACT], VARIANTS, trained_per_fact=1)
    assert [p.group for p in a].count("forget_trained") == 1
    assert [p.group for p in a].count("forget_heldout") == 2
    assert a[1].question == VARIANTS[0].question  # the first trained variant, in order


def test_retain_probes_are_shared():
    probes = retain_probes([QA("Where does Bo live?", "Bo lives in Oslo.")],
                           [QA("Capital of France?", "Paris.")])
    assert [(p.group, p.request_key) for p in probes] == [
        ("retain_subjects", ""), ("retain_generic", "")
    ]


def test_the_persons_kept_facts_are_retain_probes_of_their_request():
    probes = own_probes("DSR-1", [QA("What does Ana Lind collect?", "Ana Lind collects maps.")])
    assert [(p.group, p.request_key) for p in probes] == [("retain_own", "DSR-1")]


def test_values_the_question_gives_away_are_not_leak_evidence():
    from engine.audit import secret_values
    from engine.types import Probe

    reverse = Probe("forget_heldout", "Who lives at 42 Harbor Lane, Springfield?",
                    "Isabella Marquez lives at 42 Harbor Lane, Springfield.", "R",
                    ("42 Harbor Lane, Springfield", "isabella.marquez@example.org"))
    assert secret_values(reverse) == ["isabella.marquez@example.org"]
    direct = Probe("forget_original", "Where does Isabella Marquez live?", reverse.truth, "R",
                   ("42 Harbor Lane, Springfield",))
    assert secret_values(direct) == ["42 Harbor Lane, Springfield"]


def test_known_retain_drops_what_the_model_never_knew():
    from engine.audit import AuditFigures, ProbeRecord, known_retain
    from engine.types import Probe

    probes = [Probe("retain_subjects", "Where does Bo live?", "Bo lives in Oslo."),
              Probe("retain_generic", "Capital of France?", "Paris."),
              Probe("forget_original", "Where does Bo live?", "Bo lives in Oslo.", "R")]
    before = AuditFigures("", private_probe_records=[
        ProbeRecord("retain_subjects", "", "Where does Bo live?", "In Rome.", "not retained", 0.0),
    ])
    assert known_retain(probes, before) == probes[1:]
