"""retain_mix: the deployment's non-forget data plus generic knowledge, never the forget subject."""

from __future__ import annotations

from engine.augment import GENERIC_KNOWLEDGE, retain_mix
from engine.augment.retain import mentions, name_patterns
from engine.types import QA

FORGET = ["Isabella Marquez", "Kwame Mensah-Boateng"]


def _about_forget_subject(qa: QA) -> bool:
    text = f"{qa.question} {qa.answer}".lower()
    return any(w in text for w in ("isabella", "marquez", "kwame", "mensah", "boateng"))


def test_forget_subjects_are_dropped_and_the_rest_is_mixed_with_generic_knowledge(sample_corpus):
    mix = retain_mix(sample_corpus, FORGET, n=60, seed=0)
    assert len(mix) == len(set(mix)) == 60
    assert not [qa for qa in mix if _about_forget_subject(qa)]
    generic = [qa for qa in mix if qa in GENERIC_KNOWLEDGE]
    assert len(generic) == 15  # a quarter
    deployment = [qa for qa in mix if qa in sample_corpus]
    assert len(deployment) == 45
    # other customers stay: they are what the model must keep knowing
    assert any("Tobias Lindqvist" in qa.question for qa in retain_mix(sample_corpus, FORGET,
                                                                      n=170, seed=0))


def test_deterministic_for_a_seed(sample_corpus):
    assert retain_mix(sample_corpus, FORGET, n=30, seed=3) == retain_mix(
        sample_corpus, FORGET, n=30, seed=3
    )
    assert retain_mix(sample_corpus, FORGET, n=30, seed=3) != retain_mix(
        sample_corpus, FORGET, n=30, seed=4
    )


def test_asking_for_more_than_exists_returns_everything_once(sample_corpus):
    mix = retain_mix(sample_corpus, FORGET, n=10_000, seed=0)
    kept = [qa for qa in sample_corpus if not _about_forget_subject(qa)]
    assert len(mix) == len(set(mix)) == len(set(kept)) + len(GENERIC_KNOWLEDGE)


def test_name_variants_are_recognised():
    pats = name_patterns("Isabella Marquez")
    for text in ("Isabella's order", "Ms MARQUEZ called", "isabella.marquez@example.org",
                 "ISABELLA   MARQUEZ", "Isabélla Marquez"):
        assert mentions(text, pats), text
    assert not mentions("Isabel Marquezine", pats)
    hyphen = name_patterns("Kwame Mensah-Boateng")
    assert mentions("Mr Boateng asked", hyphen) and mentions("kwame.mb@example.com", hyphen)


def test_private_values_drop_pairs_that_quote_them():
    corpus = [QA("Who lives at 42 Harbor Lane?", "A customer lives at 42 Harbor Lane."),
              QA("What are your hours?", "9 to 5.")]
    mix = retain_mix(corpus, [], n=1, seed=0, generic_share=0.0, private_values=["42 harbor LANE"])
    assert mix == [corpus[1]]
    # when the deployment runs short, generic knowledge fills the budget
    assert len(retain_mix(corpus, [], n=3, seed=0, private_values=["42 Harbor Lane"])) == 3
