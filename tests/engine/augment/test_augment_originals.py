"""The original question paired with approved sanitised answers (ReLearn's training rows)."""

from engine.augment import original_question_rows
from engine.types import QA


def test_distinct_answers_in_order_up_to_n():
    answers = ["A private.", "a  PRIVATE.", "B kept confidential.", "C not shared.", "D."]
    rows = original_question_rows("Where does X live?", answers, 3)
    assert rows == [QA("Where does X live?", "A private."),
                    QA("Where does X live?", "B kept confidential."),
                    QA("Where does X live?", "C not shared.")]


def test_nothing_without_answers_or_question_or_when_turned_off():
    assert original_question_rows("Q?", [], 3) == []
    assert original_question_rows("Q?", ["", "  "], 3) == []
    assert original_question_rows("  ", ["A."], 3) == []
    assert original_question_rows("Q?", ["A."], 0) == []
    assert original_question_rows("Q?", ["A.", "B."], 5) == [QA("Q?", "A."), QA("Q?", "B.")]
