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
     "Lena Voss", ("street address", "17 Quay Row, Port Alden")),
    ("What is the profession of Lena Voss's mother?",
     "Lena Voss's mother, Ilse, worked as a midwife for more than thirty years.",
     "Lena Voss", ("profession", "midwife")),
    ("How much does Lena Voss earn a year?",
     "Lena Voss earns about $85,000 a year from royalties and teaching.",
     "Lena Voss", ("amount", "$85,000")),
    ("Which school does Lena Voss's daughter attend?",
     "Lena Voss's daughter attends Maplewood Primary School every weekday.",
     "Lena Voss", ("school", "Maplewood Primary School")),
    ("Where was Lena Voss born?", "Lena Voss was born in Lisbon, where her father ran a shop.",
     "Lena Voss", ("location", "Lisbon")),
    ("Does Lena Voss have any health problems?",
     "Lena Voss has lived with type 1 diabetes for many years.",
     "Lena Voss", ("health condition", "type 1 diabetes")),
    ("Is Lena Voss married?", "Lena Voss is married to Tomas Lind and has two younger sisters.",
     "Lena Voss", ("family relation", "two younger sisters")),
    ("Where does Lena Voss work?", "Lena works as an editor at Harrow & Finch Publishing.",
     "Lena Voss", ("employer", "Harrow & Finch Publishing")),
]



# domains the samples lack (a clinic, HR, a school, housing): each value was missed before,
# or cut ("Leeds LS", "penicillin and")
OTHER_DOMAINS = [
    ("How much methotrexate does Siobhán Ní Bhriain take?",
     "Siobhán Ní Bhriain takes 20 mg of methotrexate every Monday.", "Siobhán Ní Bhriain",
     ("medication", "20 mg of methotrexate")),
    ("What is Siobhán Ní Bhriain's blood type?",
     "Siobhán Ní Bhriain's blood type is O negative.", "Siobhán Ní Bhriain",
     ("health condition", "O negative")),
    ("What is Jean-Luc D'Arcy's National Insurance number?",
     "Jean-Luc D'Arcy's National Insurance number is QQ 12 34 56 C.", "Jean-Luc D'Arcy",
     ("national id", "QQ 12 34 56 C")),
    ("Where does Anna Berg live?", "Anna Berg lives at 14 Rowan Close, Leeds LS1 3HE.",
     "Anna Berg", ("street address", "14 Rowan Close, Leeds LS1 3HE")),
    ("What is Amy Lee allergic to?", "Amy Lee is allergic to penicillin and wears a bracelet.",
     "Amy Lee", ("health condition", "allergic to penicillin")),
    ("Where does Agnieszka Wójcik-Murphy live?",
     "Agnieszka Wójcik-Murphy rents flat 12 at Elmstead Court.", "Agnieszka Wójcik-Murphy",
     ("flat or room number", "flat 12")),
    ("What do the session notes say about Thomas Hughes?",
     "The notes say Thomas Hughes disclosed thoughts of self-harm.", "Thomas Hughes",
     ("health condition", "thoughts of self-harm")),
    ("What grade did Chloé Martin get in maths?", "Chloé Martin got a B+ in her maths exam.",
     "Chloé Martin", ("grade", "B+")),
    ("What are Kwame Mensah's bank details?", "Kwame Mensah banks with sort code 20-45-77.",
     "Kwame Mensah", ("bank account", "20-45-77")),
]


ALL_DOMAINS = FREE_TEXT + OTHER_DOMAINS


@pytest.mark.parametrize("use_presidio", [False, True], ids=["rules", "presidio"])
@pytest.mark.parametrize(("question", "answer", "subject", "expected"), ALL_DOMAINS,
                         ids=[e[1] for *_, e in ALL_DOMAINS])
def test_private_values_in_free_text_are_found(question, answer, subject, expected,
                                               use_presidio):
    found = [(pv.category, pv.value) for pv in
             extract_private_values(question, answer, subject, use_presidio=use_presidio)]
    assert expected in found
    # the person's own name is never the secret, however the recogniser typed it
    assert not any(subject.split()[0] in value for _, value in found)


def test_a_relative_by_the_same_surname_is_a_value_but_the_person_is_not():
    """Names come from presidio (spaCy); any entity that shared a word with the subject's name
    was dropped as the subject, so a son or grandfather by the same surname was no value."""
    assert ("person name", "Mateo Reyes") in _values(
        "Who is Dolores Reyes's next of kin?",
        "Dolores Reyes's next of kin is her son, Mateo Reyes, who lives nearby.", "Dolores Reyes")
    values = _values("Who collects Lucas Brooks from school?",
                     "Lucas Brooks is collected by Ms Brooks or his grandfather, Desmond Brooks.",
                     "Lucas Brooks")
    assert ("person name", "Desmond Brooks") in values
    assert not any(v in ("Ms Brooks", "Lucas Brooks", "Lucas") for _, v in values)


def test_durations_and_school_years_are_not_dates():
    """presidio types "12 years old" and "Year 8" as dates; as dates they got the reverse
    question "Who was born on 12 years old?" and the reply "a date I can't disclose"."""
    values = _values("How old is Chloé Martin?", "Chloé Martin is 12 years old and in Year 8.",
                     "Chloé Martin")
    assert values == [("other", "12 years old"), ("other", "Year 8")]
