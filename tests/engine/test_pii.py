"""What the PII extractor keeps as a fact's private values (presidio on, as the app runs it)."""

from __future__ import annotations

from engine.pii import extract_private_values


def _values(question: str, answer: str, subject: str) -> list[tuple[str, str]]:
    return [(pv.category, pv.value) for pv in extract_private_values(question, answer, subject)]


def test_a_bare_month_is_not_a_private_value_but_the_account_is():
    values = _values("What do the account notes say about Malcolm Achterberg?",
                     "Malcolm Achterberg holds account LO-15588 and disputed a charge in March.",
                     "Malcolm Achterberg")
    assert values == [("account identifier", "LO-15588")]


def test_a_full_date_stays_a_private_value():
    values = _values("When was Isabella Marquez born?",
                     "Isabella Marquez was born on 14 March 1987.", "Isabella Marquez")
    assert values == [("date of birth", "14 March 1987")]
