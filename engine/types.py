"""Plain data passed between the engine and the application.

These are the engine's whole vocabulary: the application converts its database rows into them
and stores what comes back. Frozen dataclasses so they can be hashed and shared across threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VARIANT_KINDS = ("simple", "contextual", "noise", "logical")
"""Question-variant kinds (docs/design.md §5.3); ``completion`` items are a fifth, separate
kind."""

FORWARD_KINDS = ("simple", "contextual", "noise")
"""The kinds that ask about the person, as the original question does; the others
(``logical``) ask back with the value ("Who lives at <address>?") and are answered with a
refusal to name anyone."""
REVERSE_KINDS = tuple(k for k in VARIANT_KINDS if k not in FORWARD_KINDS)

ITEM_KINDS = (*VARIANT_KINDS, "completion")

OPERATOR_PROBE = "operator"
"""The kind of a probe question an operator wrote for a fact (a request file's ``probes``):
asked by the audit's ``independent`` family, never trained on."""


@dataclass(frozen=True)
class PrivateValue:
    """One private detail inside a fact's answer, e.g. ("email address", "ana@example.org")."""

    category: str
    value: str


@dataclass(frozen=True)
class QA:
    """A prompt and its target answer; the unit every trainer and probe works on.

    ``targets``, when given, are the (start, end) character spans of the answer that training
    sees as targets; the rest of the answer is context only. Empty: the whole answer. A span
    that reaches the answer's end covers the end-of-answer marker too.
    """

    question: str
    answer: str
    targets: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Fact:
    """A fact the model must forget, as the engine sees it."""

    fact_id: str
    subject_name: str
    question: str
    answer: str
    private_values: tuple[PrivateValue, ...] = ()


@dataclass(frozen=True)
class Verification:
    """Outcome of scanning one sanitised answer for leaks."""

    ok: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Variant:
    """One augmented item for a fact: a question variant with its sanitised answer.

    ``held_out`` variants are probes: the audit asks them, training never sees them.
    """

    fact_id: str
    kind: str
    question: str
    answer: str
    backend: str
    seed: int
    held_out: bool = False
    verification: Verification = field(default_factory=lambda: Verification(True))
    attempts: int = 1


@dataclass(frozen=True)
class TrainData:
    """What one unlearning run trains on.

    ``forget`` holds the original private QA pairs (what GA/NPO push down), ``relearn`` the
    approved sanitised variants (what ReLearn learns instead), ``retain`` the data to keep, and
    ``values`` the original pairs again with only their private values as targets (see
    :func:`mark_values`). Each method uses the parts its loss names. ``subjects`` names the
    people being forgotten, so that a method can tell which retain rows are about someone else
    (ReLearn's neighbour term); it is not part of a run's fingerprint, since the rows already
    determine it.
    """

    forget: tuple[QA, ...]
    relearn: tuple[QA, ...]
    retain: tuple[QA, ...]
    values: tuple[QA, ...] = ()
    subjects: tuple[str, ...] = ()


def mark_values(qa: QA, values: tuple[str, ...] | list[str]) -> QA | None:
    """``qa`` with every occurrence of the values in its answer as its targets (case ignored);
    None when no value occurs in the answer."""
    low = qa.answer.lower()
    spans = set()
    for value in values:
        needle = value.strip().lower()
        start = low.find(needle) if needle else -1
        while start >= 0:
            spans.add((start, start + len(needle)))
            start = low.find(needle, start + 1)
    if not spans:
        return None
    return QA(qa.question, qa.answer, tuple(sorted(spans)))


@dataclass(frozen=True)
class Probe:
    """One audit question with its ground truth.

    ``group`` is one of engine.audit.config.GROUPS; ``request_key`` ties forget probes to their
    request. The fields after ``private_values`` shape an adversarial prompt (the ``extraction``
    family, engine.audit.prompts): ``style`` names the attack, ``system`` replaces the system
    message, ``shots`` are earlier (question, answer) turns, ``prefix`` opens the assistant's
    answer for it, and with ``raw`` the model gets ``question`` as bare text, no chat template.
    ``decoys`` (membership inference) are the truth with fresh fictional values in place of the
    private ones.
    """

    group: str
    question: str
    truth: str
    request_key: str = ""
    private_values: tuple[str, ...] = ()
    style: str = ""
    system: str = ""
    shots: tuple[tuple[str, str], ...] = ()
    prefix: str = ""
    raw: bool = False
    decoys: tuple[str, ...] = ()
