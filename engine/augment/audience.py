"""Who the deployment's assistant serves, so that contexts and reverse questions fit it.

The ``[augment]`` settings ``domain`` (what the assistant is about: "the author archive of the
Quillstone Review") and ``people`` (who the people in its data are, plural: "authors",
"patients", "customers"). Unset, the wording stays neutral ("which person", "our records"):
a question about a patient must not read like a retail support desk's.
"""

from __future__ import annotations

from dataclasses import dataclass

# plural -> singular for the irregular or ambiguous plurals an operator is likely to write
_SINGULAR = {"people": "person", "staff": "staff member", "children": "child", "men": "man",
             "women": "woman", "alumni": "alumnus"}


def singular(plural: str) -> str:
    """The singular of an English plural noun phrase (its last word is the one that changes)."""
    head, _, last = plural.strip().rpartition(" ")
    if last in _SINGULAR:
        word = _SINGULAR[last]
    elif last.endswith("ies") and len(last) > 4:
        word = last[:-3] + "y"
    elif last.endswith(("sses", "xes", "ches", "shes")):
        word = last[:-2]
    elif last.endswith("s") and not last.endswith("ss"):
        word = last[:-1]
    else:
        word = last
    return f"{head} {word}".strip()


@dataclass(frozen=True)
class Audience:
    """The deployment's domain and its people; both optional."""

    domain: str = ""
    people: str = ""

    @property
    def plural(self) -> str:
        return " ".join(self.people.split()) or "people"

    @property
    def person(self) -> str:
        return singular(self.plural) if self.people.strip() else "person"

    @property
    def among(self) -> str:
        """How a reverse question names the group: "among our authors", "in our records"."""
        return f"among our {self.plural}" if self.people.strip() else "in our records"

    @property
    def retail(self) -> bool:
        """The six relation templates' contexts (orders, parcels, billing) describe a shop's
        customer desk; they are used only where the people are customers ("clients" may be a
        counsellor's or a law firm's, who send no parcels)."""
        return self.plural.lower() in ("customers", "shoppers")

    def fields(self) -> dict[str, str]:
        return {"person": self.person, "people": self.plural, "among": self.among,
                "domain": " ".join(self.domain.split())}
