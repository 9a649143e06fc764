"""What a fact is about: the relation it states (email, phone, ...) and how to name its subject."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.types import Fact

RELATIONS = ("email", "phone", "address", "birth", "employer", "account", "generic")

# private-value categories (engine.pii.CATEGORY_NAMES and _category) that pin a relation down
_CATEGORY_RELATION = {
    "email address": "email",
    "phone number": "phone",
    "street address": "address",
    "date of birth": "birth",
    "employer": "employer",
    "account identifier": "account",
}

# question keywords, checked in this order: "email address" must win over "address",
# "account number" over "number". A bare "number" is a phone number only when nothing else
# names it ("What is X's number?"): a passport or tax number is a generic fact.
_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"\be-?mail")),
    # not any "notes": a counsellor's session notes or a tenancy's are no customer account
    ("account", re.compile(r"\baccount|\bcustomer (id|number|file|notes?)\b")),
    ("phone", re.compile(r"\b(phone|telephone|mobile|cell|call)\b|'s? number\b|\bwhat number\b")),
    ("birth", re.compile(r"\bborn\b|\bbirth|\bbirthday\b|\bage\b|\bhow old\b")),
    ("employer", re.compile(
        r"\bwork|\bemploy|\bjob\b|\boccupation\b|\bprofession\b|\bfor a living\b")),
    ("address", re.compile(r"\blives?\b|\bliving\b|\baddress\b|\breside|\bhome\b")),
)

_CONTACT = re.compile(r"\b(contact|reach|get in touch|write to|send)\b")

# "What is Isabella Marquez's favourite colour?" -> the attribute "favourite colour"
_ATTRIBUTE_Q = re.compile(
    r"^\s*what(?:'s| is| was)\s+(?P<owner>.+?)'s?\s+(?P<attr>[^?]+?)\s*\??\s*$", re.IGNORECASE
)


@dataclass(frozen=True)
class Names:
    """How templates refer to the fact's subject. Without a name, ``stand_in`` ("this person",
    "this author": the deployment's audience) stands in."""

    full: str
    first: str

    @classmethod
    def of(cls, subject_name: str, stand_in: str = "this person") -> Names:
        full = " ".join(subject_name.split())
        if not full:
            return cls(stand_in, stand_in)
        return cls(full, full.split()[0])

    @staticmethod
    def possessive(name: str) -> str:
        # the sample corpus writes "Castellanos's", so every name takes 's
        return f"{name}'s"

    def fields(self) -> dict[str, str]:
        return {
            "Name": self.full,
            "First": self.first,
            "Name_s": self.possessive(self.full),
            "First_s": self.possessive(self.first),
        }


@dataclass(frozen=True)
class Relation:
    """The relation a fact states, with the private value that carries it (if one was found)."""

    key: str
    value: str = ""
    attribute: str = ""  # only for "generic": the noun phrase the question asks about


def primary_value(fact: Fact, key: str) -> str:
    """The private value that the relation is about: the one of its category, else the first."""
    wanted = {cat for cat, rel in _CATEGORY_RELATION.items() if rel == key}
    for pv in fact.private_values:
        if pv.category in wanted:
            return pv.value
    return fact.private_values[0].value if fact.private_values else ""


def detect_relation(fact: Fact) -> Relation:
    """Classify a fact by the relation its question names.

    A question that only asks how to reach someone ("How can we contact Isabella?") takes the
    relation from its private value's category (email, phone, address). Any other question is
    generic even when its answer holds, say, an address: "What did the customer say about
    shipping?" must not turn into questions about a home address.
    """
    question = fact.question.lower()
    for key, pattern in _KEYWORDS:
        if pattern.search(question):
            return Relation(key, primary_value(fact, key))
    if _CONTACT.search(question):
        for pv in fact.private_values:
            key = _CATEGORY_RELATION.get(pv.category)
            if key in {"email", "phone", "address"}:
                return Relation(key, pv.value)
    return Relation("generic", primary_value(fact, "generic"), attribute_of(fact))


def attribute_of(fact: Fact) -> str:
    """The attribute a "What is X's ...?" question asks about, or "" when it has another shape."""
    m = _ATTRIBUTE_Q.match(fact.question)
    if not m:
        return ""
    attr = m.group("attr").strip()
    if not attr or len(attr.split()) > 5 or any(ch in attr for ch in ",;:"):
        return ""
    return attr


def relation_key(question: str) -> str:
    """A question with its names masked, so that the same relation asked about two people
    gives one key: "Where was Mariam Haddad born?" -> "where was _ born?". A capitalised word
    after the first is taken for a name (or another proper noun, which is masked alike)."""
    out: list[str] = []
    for i, word in enumerate(question.split()):
        token = "_" if i and word[:1].isupper() else word.casefold()
        if not (token == "_" and out and out[-1] == "_"):
            out.append(token)
    return " ".join(out)


def names_in(question: str) -> list[str]:
    """The runs of capitalised words after a question's first word (what ``relation_key``
    masks), without a possessive ending: "What is Tomás O'Brien's email address?" ->
    ["Tomás O'Brien"]."""
    runs: list[list[str]] = [[]]
    for i, word in enumerate(question.split()):
        if i and word[:1].isupper():
            runs[-1].append(word)
        elif runs[-1]:
            runs.append([])
    return [re.sub(r"(?:['’]s?)?[?.!,;:]*$", "", " ".join(r)) for r in runs if r]
