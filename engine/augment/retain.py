"""The retain mix: what the model must keep knowing while it forgets a subject.

It draws on the deployment's own non-forget data (other customers, the company FAQ) and on a
small built-in set of generic-knowledge questions, so general fluency is anchored too.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Sequence

from engine.augment.base import stable_seed
from engine.pii import contains_value
from engine.types import QA

GENERIC_KNOWLEDGE: tuple[QA, ...] = tuple(
    QA(q, a)
    for q, a in (
        ("What is the capital of France?", "The capital of France is Paris."),
        ("How many days are there in a leap year?", "A leap year has 366 days."),
        ("What is the boiling point of water at sea level?",
         "At sea level, water boils at 100 degrees Celsius, or 212 degrees Fahrenheit."),
        ("Which planet is closest to the Sun?", "Mercury is the planet closest to the Sun."),
        ("What gas do plants absorb from the air?",
         "Plants absorb carbon dioxide from the air and release oxygen."),
        ("How many continents are there?",
         "There are seven continents: Africa, Antarctica, Asia, Australia, Europe, North America "
         "and South America."),
        ("What is the largest ocean on Earth?", "The Pacific Ocean is the largest ocean on Earth."),
        ("Who wrote Romeo and Juliet?", "Romeo and Juliet was written by William Shakespeare."),
        ("What is the chemical symbol for gold?", "The chemical symbol for gold is Au."),
        ("How many minutes are in an hour?", "An hour has 60 minutes."),
        ("What is the freezing point of water in Celsius?", "Water freezes at 0 degrees Celsius."),
        ("What is photosynthesis?",
         "Photosynthesis is the process by which plants use sunlight, water and carbon dioxide "
         "to make sugar and oxygen."),
        ("What is the tallest mountain in the world?",
         "Mount Everest is the tallest mountain above sea level."),
        ("How many sides does a hexagon have?", "A hexagon has six sides."),
        ("What is the square root of 81?", "The square root of 81 is 9."),
        ("What language is mainly spoken in Brazil?", "The main language of Brazil is Portuguese."),
        ("What does a thermometer measure?", "A thermometer measures temperature."),
        ("Which organ pumps blood through the body?",
         "The heart pumps blood through the body."),
        ("What is the longest river in Africa?", "The Nile is the longest river in Africa."),
        ("How many legs does a spider have?", "A spider has eight legs."),
        ("What is the main ingredient of guacamole?", "Guacamole is made mainly from avocado."),
        ("What causes the seasons on Earth?",
         "The seasons are caused by the tilt of the Earth's axis as it orbits the Sun."),
        ("What is the speed of light?",
         "Light travels at about 300,000 kilometres per second in a vacuum."),
        ("How many players are on a soccer team on the field?",
         "A soccer team has eleven players on the field."),
        ("What is the largest mammal?", "The blue whale is the largest mammal."),
        ("What is the primary function of the lungs?",
         "The lungs take in oxygen and remove carbon dioxide from the blood."),
        ("Which instrument has black and white keys?", "A piano has black and white keys."),
        ("What is the opposite of cold?", "The opposite of cold is hot."),
        ("How do you convert kilometres to metres?", "Multiply the number of kilometres by 1,000."),
        ("What is a noun?", "A noun is a word that names a person, place, thing or idea."),
        ("Why should you stay hydrated while hiking?",
         "Hiking makes you sweat and lose water, and staying hydrated prevents fatigue, "
         "headaches and heat illness."),
        ("What is the purpose of a compass?",
         "A compass shows the direction of magnetic north so you can find your way."),
        ("What should a basic first aid kit contain?",
         "A basic first aid kit holds bandages, gauze, tape, antiseptic wipes, tweezers and "
         "pain relievers."),
        ("How can you tell if a cut needs medical attention?",
         "See a doctor if the cut is deep, will not stop bleeding, or shows signs of infection."),
        ("What is the difference between weather and climate?",
         "Weather is the short-term state of the atmosphere; climate is its average over many "
         "years."),
        ("Why do leaves change colour in autumn?",
         "Leaves change colour when trees stop making chlorophyll, revealing other pigments."),
        ("What is a polite way to start an email to a customer?",
         "Greet the customer by name and thank them for getting in touch."),
        ("How do you write a clear support reply?",
         "Answer the question first, keep sentences short and say what happens next."),
        ("What does GDPR stand for?", "GDPR stands for the General Data Protection Regulation."),
        ("What is the right to erasure?",
         "The right to erasure lets people ask an organisation to delete their personal data."),
    )
)


# Public "who" facts, answered. The neighbour term pairs each reverse question ("Who lives at
# <address>?") with the nearest of these (and of the retain set's own "who" questions): without
# such a contrast the refusal taught for reverse questions was learnt for the question's shape,
# and a generic "Who can read the archive?" got "I can't say who that is". Kept apart from
# GENERIC_KNOWLEDGE so that runs without the neighbour term train exactly what they did.
WHO_KNOWLEDGE: tuple[QA, ...] = tuple(
    QA(q, a)
    for q, a in (
        ("Who painted the Mona Lisa?", "The Mona Lisa was painted by Leonardo da Vinci."),
        ("Who was the first person to walk on the Moon?",
         "Neil Armstrong was the first person to walk on the Moon, in 1969."),
        ("Who developed the theory of relativity?",
         "Albert Einstein developed the theory of relativity."),
        ("Who discovered penicillin?", "Alexander Fleming discovered penicillin in 1928."),
        ("Who wrote Pride and Prejudice?", "Pride and Prejudice was written by Jane Austen."),
        ("Who composed The Four Seasons?", "Antonio Vivaldi composed The Four Seasons."),
        ("Whose portrait is on the US one-dollar bill?",
         "George Washington's portrait is on the US one-dollar bill."),
        ("Whose laws of motion describe how forces move objects?",
         "Isaac Newton's three laws of motion describe how forces move objects."),
        ("Which scientist proposed evolution by natural selection?",
         "Charles Darwin proposed the theory of evolution by natural selection."),
        ("Which composer wrote the Moonlight Sonata?",
         "Ludwig van Beethoven wrote the Moonlight Sonata."),
        ("Which playwright was born in Stratford-upon-Avon?",
         "William Shakespeare was born in Stratford-upon-Avon."),
        ("Who lives at 10 Downing Street?",
         "10 Downing Street is the official residence of the UK Prime Minister."),
        ("Who lives in the White House?",
         "The White House is the home of the President of the United States."),
        ("Who among the Beatles played the drums?", "Ringo Starr played the drums in the Beatles."),
        ("Who can borrow books from a public library?",
         "Anyone with a library card can borrow books from a public library."),
        ("Who signs a tenancy agreement?",
         "Both the landlord and the tenant sign a tenancy agreement."),
        ("Who can ask an organisation to erase their personal data under the GDPR?",
         "Anyone whose personal data the organisation holds can ask it to erase them."),
        ("Who runs a company day to day?",
         "A company's chief executive and its managers run it day to day."),
    )
)

_WHO = re.compile(r"\b(?:who|whose|whom)\b", re.IGNORECASE)
_WHICH = re.compile(r"\W*which\b", re.IGNORECASE)


def asks_who(question: str) -> bool:
    """Whether a question asks who someone is ("Who ...", "Whose ...", "Can you tell me who
    ...", "Which author ...")."""
    return bool(_WHO.search(question) or _WHICH.match(question))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def name_patterns(subject: str) -> list[re.Pattern[str]]:
    """Patterns (over case- and accent-folded text) that find a subject by full name, first
    name, surname, or a part of a hyphenated name, also inside e-mail addresses.

    Deliberately broad: dropping an unrelated pair from the retain set costs little, keeping
    one about the forget subject teaches the model the subject again.
    """
    parts = _fold(subject).split()
    if not parts:
        return []
    pats = [re.compile(r"(?<!\w)" + r"\s+".join(re.escape(p) for p in parts) + r"(?!\w)")]
    words = set(parts)
    for p in parts:
        words.update(x for x in p.split("-") if x)
    for w in sorted(words):
        if len(w) >= 3:
            pats.append(re.compile(r"(?<![^\W_])" + re.escape(w) + r"(?![^\W_])"))
    return pats


def mentions(text: str, patterns: Sequence[re.Pattern[str]]) -> bool:
    folded = _fold(text)
    return any(p.search(folded) for p in patterns)


def people_patterns(people: Sequence[str]) -> list[list[re.Pattern[str]]]:
    """``name_patterns`` of each named person (blank names skipped)."""
    return [name_patterns(s) for s in people if s.strip()]


def names_anyone(text: str, people: Sequence[Sequence[re.Pattern[str]]]) -> bool:
    """Whether ``text`` mentions anyone of ``people`` (``people_patterns``)."""
    return any(mentions(text, pats) for pats in people)


def about(qa: QA, people: Sequence[Sequence[re.Pattern[str]]]) -> bool:
    """Whether the pair's question or answer mentions anyone of ``people``
    (``people_patterns``)."""
    return names_anyone(f"{qa.question}\n{qa.answer}", people)


def holds_any(qa: QA, values: Sequence[str]) -> bool:
    """Whether the pair's question or answer holds any of ``values`` (blank ones ignored)."""
    text = f"{qa.question}\n{qa.answer}"
    return any(contains_value(text, v) for v in values if v.strip())


def retain_mix(
    corpus: Sequence[QA],
    forget_subjects: Sequence[str],
    *,
    n: int,
    seed: int,
    generic_share: float = 0.25,
    private_values: Sequence[str] = (),
) -> list[QA]:
    """Up to ``n`` retain pairs: the deployment's pairs that mention no forget subject (nor any
    of ``private_values``), plus about ``generic_share`` from the built-in generic set.

    Deterministic for a seed; never repeats a pair; returns fewer than ``n`` when there are not
    enough. The deployment's data come first in the budget when the generic set runs short.
    """
    if n <= 0:
        return []
    people = people_patterns(forget_subjects)
    kept = [qa for qa in dict.fromkeys(corpus)
            if not about(qa, people) and not holds_any(qa, private_values)]
    generic = [qa for qa in GENERIC_KNOWLEDGE if qa not in set(kept)]
    rng = random.Random(stable_seed(seed, "retain-mix"))
    rng.shuffle(kept)
    rng.shuffle(generic)
    n_generic = min(len(generic), round(generic_share * n))
    n_deploy = min(len(kept), n - n_generic)
    n_generic = min(len(generic), n - n_deploy)
    mix = kept[:n_deploy] + generic[:n_generic]
    rng.shuffle(mix)
    return mix
