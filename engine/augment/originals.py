"""The fact's own question, answered with sanitised answers the reviewer already approved.

The deployed model memorised each fact under its original wording, and that wording is what
an erasure must reach first: trained on paraphrases only, the model answered the original
questions with the private value again (greedy KFR on them 0.61 after ReLearn on the sample
deployment, against 0.92 on the trained paraphrases). No new text is generated here, so nothing
enters training that a reviewer (or the approval policy) has not seen.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.types import QA


def original_question_rows(question: str, approved_answers: Iterable[str], n: int) -> list[QA]:
    """Up to ``n`` rows pairing ``question`` with distinct approved answers, in the order given."""
    if n <= 0 or not question.strip():
        return []
    rows: list[QA] = []
    seen: set[str] = set()
    for answer in approved_answers:
        key = " ".join(answer.split()).casefold()
        if not key or key in seen:
            continue
        seen.add(key)
        rows.append(QA(question, answer))
        if len(rows) == n:
            break
    return rows
