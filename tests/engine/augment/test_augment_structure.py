"""Reading a question's structure: a possessed noun of several words stays one noun."""

from __future__ import annotations

import pytest

from engine.augment import OfflineBackend, with_private_values
from engine.augment.structure import embedded, parse
from engine.types import VARIANT_KINDS, Fact

# (question, subject, the question as an embedded clause)
CLAUSES = [
    ("When is Siobhán Ní Bhriain's next appointment?", "Siobhán Ní Bhriain",
     "when Siobhán Ní Bhriain's next appointment is"),
    ("Who is Dolores Reyes's next of kin?", "Dolores Reyes", "who Dolores Reyes's next of kin is"),
    ("Who is Kwame Mensah's emergency contact?", "Kwame Mensah",
     "who Kwame Mensah's emergency contact is"),
    # the word after the noun is the predicate here, not more of the noun
    ("When is Lena Voss's rent due?", "Lena Voss", "when Lena Voss's rent is due"),
    ("When was Lena Voss's daughter born?", "Lena Voss", "when Lena Voss's daughter was born"),
    ("Where does Lena Voss's daughter go to school?", "Lena Voss",
     "where Lena Voss's daughter goes to school"),
    ("Where is Lena Voss's office?", "Lena Voss", "where Lena Voss's office is"),
    # a counted noun after "how much" / "how many" (such questions had no shape at all)
    ("How much rent does Anna Berg owe?", "Anna Berg", "how much rent Anna Berg owes"),
    ("How many days of sick leave has Anna Berg taken?", "Anna Berg",
     "how many days of sick leave Anna Berg has taken"),
]


@pytest.mark.parametrize(("question", "subject", "clause"), CLAUSES, ids=[c[0] for c in CLAUSES])
def test_the_possessed_noun_is_kept_whole(question, subject, clause):
    shape = parse(question, subject)
    assert embedded(shape, shape.owner) == clause


def test_no_variant_splits_a_two_word_noun():
    """Every paraphrase, context and answer of the fact read "Siobhán's next is appointment"."""
    fact = with_private_values(
        Fact("c1", "Siobhán Ní Bhriain", "When is Siobhán Ní Bhriain's next appointment?",
             "Siobhán Ní Bhriain's next appointment is on 12 February 2027 at 9:30."),
        use_presidio=False)
    items = OfflineBackend().variants(fact, kinds=VARIANT_KINDS, per_kind=3, seed=0, attempt=0)
    assert items
    for _kind, question, answer in items:
        for text in (question, answer):
            assert "next is appointment" not in text and "next's" not in text, text


def test_no_doorstep_says_the_person_is_private():
    """ "Marcus Ellis is" + "private, so I can't share it." reads as if the person were the
    secret; a doorstep after a copula needs a detail before it ("X's blood type is")."""
    from engine.augment.completion import doorstep_pairs
    from engine.augment.offline import build_plan

    def pairs(fact: Fact) -> list[tuple[str, str]]:
        fact = with_private_values(fact, use_presidio=False)
        return doorstep_pairs(fact, build_plan(fact, None))

    assert pairs(Fact("h", "Marcus Ellis", "Does Marcus Ellis have any health problems?",
                      "Marcus Ellis is HIV positive and sees his doctor twice a year.")) == []
    kept = pairs(Fact("b", "Marcus Ellis", "What is Marcus Ellis's blood type?",
                      "Marcus Ellis's blood type is O negative."))
    assert kept and kept[0][0] == "Marcus Ellis's blood type is"


def test_no_completion_opening_stops_inside_a_name():
    """The quarter-length opening was "Siobhán Ní" + "Bhriain's ..." and "X's National" +
    "Insurance number ..."."""
    import random

    from engine.augment.completion import completion_pairs
    from engine.augment.offline import build_plan

    for fact in (
        Fact("a", "Jean-Luc D'Arcy", "What is Jean-Luc D'Arcy's National Insurance number?",
             "Jean-Luc D'Arcy's National Insurance number is QQ 12 34 56 C."),
        Fact("b", "Siobhán Ní Bhriain", "What does Siobhán Ní Bhriain's patient file say?",
             "Siobhán Ní Bhriain was diagnosed with rheumatoid arthritis in 2019 and sees a "
             "specialist every six months."),
    ):
        fact = with_private_values(fact, use_presidio=False)
        pairs = completion_pairs(fact, build_plan(fact, None), 6, random.Random(0))
        assert pairs
        for opening, continuation in pairs:
            assert not (opening.split()[-1][:1].isupper() and continuation[:1].isupper()), \
                (opening, continuation)
