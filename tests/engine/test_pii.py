"""What the PII extractor keeps as a fact's private values (presidio on, as the app runs it)."""

from __future__ import annotations

import pytest

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


FREE_TEXT = [
    ("Where does Lena Voss live?",
     "Lena Voss resides at 17 Quay Row, Port Alden, close to the old lighthouse.",
     ("street address", "17 Quay Row, Port Alden")),
    ("What is the profession of Lena Voss's mother?",
     "Lena Voss's mother, Ilse, worked as a midwife for more than thirty years.",
     ("profession", "midwife")),
    ("How much does Lena Voss earn a year?",
     "Lena Voss earns about $85,000 a year from royalties and teaching.",
     ("amount", "$85,000")),
    ("Which school does Lena Voss's daughter attend?",
     "Lena Voss's daughter attends Maplewood Primary School every weekday.",
     ("school", "Maplewood Primary School")),
    ("Where was Lena Voss born?", "Lena Voss was born in Lisbon, where her father ran a shop.",
     ("location", "Lisbon")),
    ("Does Lena Voss have any health problems?",
     "Lena Voss has lived with type 1 diabetes for many years.",
     ("health condition", "type 1 diabetes")),
    ("Is Lena Voss married?", "Lena Voss is married to Tomas Lind and has two younger sisters.",
     ("family relation", "two younger sisters")),
    ("Where does Lena Voss work?", "Lena works as an editor at Harrow & Finch Publishing.",
     ("employer", "Harrow & Finch Publishing")),
]


@pytest.mark.parametrize("use_presidio", [False, True], ids=["rules", "presidio"])
@pytest.mark.parametrize(("question", "answer", "expected"), FREE_TEXT,
                         ids=[e[0] for _, _, e in FREE_TEXT])
def test_private_values_in_free_text_are_found(question, answer, expected, use_presidio):
    found = [(pv.category, pv.value) for pv in
             extract_private_values(question, answer, "Lena Voss", use_presidio=use_presidio)]
    assert expected in found
