"""A question's own structure, and what the offline backend builds from it.

Any question about a person is read as one of three shapes:

- ``attr``: "What is Lena Voss's birthplace?", "What is the profession of Lena Voss's mother?"
  (an owner and an attribute);
- ``wh``: "Where was Lena Voss born?", "Which school does Lena Voss's daughter attend?" (a
  question word, an auxiliary, an owner and a verb phrase);
- ``yesno``: "Does Lena Voss have any allergies?".

Paraphrases move the same parts around ("Can you tell me where Lena Voss was born?"); reverse
questions put the value where the question word was and a "who" where the owner was ("Who was
born in Lisbon?", "Whose daughter attends Maplewood Primary School?"), but only where the value's
type fits the question word (a place after "where", a date after "when"). Whatever cannot be
built soundly is left out, with the reason, instead of being guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.types import Fact, PrivateValue

# private-value categories (engine.pii) -> the type a reverse question reasons with
VALUE_TYPES = {
    "email address": "email",
    "phone number": "phone",
    "street address": "address",
    "date": "date",
    "date of birth": "date",
    "location": "place",
    "organisation": "organisation",
    "employer": "organisation",
    "school": "organisation",
    "amount": "amount",
    "profession": "profession",
    "family relation": "family",
    "health condition": "health",
    "medication": "health",
    "person name": "person",
    "account identifier": "identifier",
}

# how a reply refers to a value of each type ("that place", "a date I can't disclose")
TYPE_NOUNS = {
    "email": "email address", "phone": "phone number", "address": "address", "date": "date",
    "place": "place", "organisation": "organisation", "amount": "amount",
    "profession": "profession", "family": "family detail", "health": "health detail",
    "person": "name", "identifier": "account", "other": "detail",
}

# which value types a question word can be answered with
_WH_TYPES = {
    "where": {"address", "place", "organisation"},
    "when": {"date"},
    "who": {"person"},
    "whom": {"person"},
    "how much": {"amount"},
    "how many": {"amount", "family"},
}
# nouns after "which"/"what" that pin the answer's type down ("which school", "what city")
_NOUN_TYPES = {
    "school": {"organisation"}, "university": {"organisation"}, "college": {"organisation"},
    "company": {"organisation"}, "firm": {"organisation"}, "employer": {"organisation"},
    "publisher": {"organisation"}, "bank": {"organisation"}, "city": {"place"},
    "town": {"place"}, "country": {"place"}, "village": {"place"}, "place": {"place"},
    # not "year" or "day": "how much does X earn a year?" asks for an amount
    "address": {"address"}, "street": {"address"}, "date": {"date"}, "job": {"profession"},
    "profession": {"profession"},
    "occupation": {"profession"}, "salary": {"amount"}, "income": {"amount"},
    "condition": {"health"}, "illness": {"health"}, "email": {"email"}, "number": {"phone"},
    "birthplace": {"place"}, "birthday": {"date"}, "hometown": {"place"},
    "email address": {"email"}, "home address": {"address"}, "phone number": {"phone"},
    "account number": {"identifier"}, "date of birth": {"date"}, "place of birth": {"place"},
    "mobile number": {"phone"}, "telephone number": {"phone"},
}


def noun_types_in(text: str) -> set[str]:
    """The types every type noun in ``text`` names, longest nouns first ("email address" is
    not also an "address")."""
    low = text.lower()
    found: set[str] = set()
    for noun in sorted(_NOUN_TYPES, key=len, reverse=True):
        pattern = rf"(?<![\w-]){re.escape(noun)}(?![\w-])"
        if re.search(pattern, low):
            found |= _NOUN_TYPES[noun]
            low = re.sub(pattern, " ", low)
    return found


def _noun_types(phrase: str) -> set[str]:
    """The types a noun phrase names, by its longest known ending ("email address" before
    "address")."""
    words = phrase.lower().split()
    for n in range(min(3, len(words)), 0, -1):
        key = " ".join(words[-n:])
        if key in _NOUN_TYPES:
            return set(_NOUN_TYPES[key])
    return set()

_COPULAS = {"is", "was", "are", "were"}
_MODALS = {"can", "could", "will", "would", "should", "may", "might", "has", "have", "had"}
_DO = {"do", "does", "did"}
_AUX = _COPULAS | _MODALS | _DO
_PREPOSITIONS = {"at", "in", "on", "for", "from", "to", "with", "by", "of", "about", "as"}
_PRONOUNS = {"we", "i", "you", "they", "he", "she", "it"}

# third person singular and past tense of the verbs an irregular rule would get wrong
_THIRD = {"have": "has", "do": "does", "go": "goes", "be": "is"}
_PAST = {
    "be": "was", "become": "became", "begin": "began", "bring": "brought", "build": "built",
    "buy": "bought", "choose": "chose", "come": "came", "do": "did", "drive": "drove",
    "eat": "ate", "fall": "fell", "feel": "felt", "find": "found", "fly": "flew",
    "get": "got", "give": "gave", "go": "went", "grow": "grew", "have": "had", "hear": "heard",
    "hold": "held", "keep": "kept", "know": "knew", "lead": "led", "leave": "left",
    "lose": "lost", "make": "made", "meet": "met", "pay": "paid", "put": "put", "read": "read",
    "run": "ran", "say": "said", "see": "saw", "sell": "sold", "send": "sent", "set": "set",
    "sing": "sang", "sit": "sat", "speak": "spoke", "spend": "spent", "stand": "stood",
    "study": "studied", "take": "took", "teach": "taught", "tell": "told", "think": "thought",
    "win": "won", "write": "wrote", "wear": "wore",
}
_KIN = (
    "mother", "father", "parents", "parent", "sister", "brother", "siblings", "son", "daughter",
    "children", "child", "wife", "husband", "partner", "spouse", "grandmother", "grandfather",
    "aunt", "uncle", "cousin", "niece", "nephew", "mum", "mom", "dad", "stepmother",
    "stepfather", "fiancé", "fiancée",
)


def third_person(verb: str) -> str:
    """``verb`` as after "he/she": live -> lives, study -> studies, teach -> teaches."""
    if verb in _THIRD:
        return _THIRD[verb]
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ies"
    if verb.endswith(("s", "x", "z", "ch", "sh", "o")):
        return verb + "es"
    return verb + "s"


def past_tense(verb: str) -> str:
    """``verb`` in the past tense, or "" where the regular rule might be wrong (a consonant to
    double: "stop" -> "stopped") and the verb is not in the table."""
    if verb in _PAST:
        return _PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ied"
    if re.search(r"[^aeiou][aeiou][^aeiouwxy]$", verb):
        return ""
    return verb + "ed"


def value_type(pv: PrivateValue) -> str:
    return VALUE_TYPES.get(pv.category, "other")


@dataclass(frozen=True)
class Shape:
    """The parts of a question; ``form`` is "" when none of the shapes fits."""

    form: str
    wh: str = ""  # "where", "which school", "how much"; "" for attr and yes/no questions
    aux: str = ""
    owner: str = ""  # as asked: "Lena Voss", "Lena Voss's daughter", "we"
    relative: str = ""  # "daughter" when the owner is someone's daughter (or "office"...)
    rest: str = ""  # the verb phrase (wh, yesno) or the attribute (attr)
    name: str = ""  # the form of the subject's name the question uses ("" if none)

    @property
    def about_subject(self) -> bool:
        return bool(self.name) and not self.relative


def _name_forms(subject: str) -> list[str]:
    full = " ".join(subject.split())
    if not full:
        return []
    parts = full.split()
    return list(dict.fromkeys([full, parts[0], parts[-1]] if len(parts) > 1 else [full]))


# who a question may be about when it does not name the person ("the customer")
_STAND_INS = ("customer", "client", "person", "patient", "author", "employee", "user",
              "member", "guest", "student", "resident")


def _owner_pattern(subject: str) -> str:
    # a name form must not be followed by another capitalised word: "Lena" is not the owner
    # when the question says "Lena Voss"
    names = [re.escape(n) + r"(?!\s+(?-i:[A-Z]))" for n in _name_forms(subject)]
    possessed = r"(?:'s?\s+[a-z][\w-]*)?"
    named = rf"(?:{'|'.join(names)}){possessed}" if names else r"(?!x)x"
    generic = rf"(?:the|this|that)\s+(?:{'|'.join(_STAND_INS)}){possessed}"
    pronoun = r"(?:we|I|you|they)"
    return rf"(?P<owner>{named}|{generic}|{pronoun})"


def _split_owner(owner: str, subject: str) -> tuple[str, str, str]:
    """(owner, possessed noun, name form) of an owner phrase: "Lena Voss's daughter" ->
    relative "daughter"; the noun need not be a relative ("Lena's office")."""
    m = re.match(r"^(.*?)'s?\s+([a-z][\w-]*)$", owner)
    base, relative = (m.group(1), m.group(2)) if m else (owner, "")
    name = base if base in _name_forms(subject) else ""
    return owner, relative, name


# what may follow "is X's <noun>" as the predicate rather than as more of the noun:
# "When is Lena's rent due?", "When was Lena's daughter born?"
_PREDICATES = frozenset({
    "born", "due", "paid", "seen", "made", "held", "kept", "told", "sent", "built", "allergic",
    "able", "likely", "based", "open", "closed", "available", "free", "home", "away", "here",
    "there", "now", "still", "also", "not", "never", "usually", "often", "ill", "sick", "well",
    "buried", "married", "enrolled", "registered", "treated", "insured", "employed", "working",
})


def _noun_rest(relative: str, aux: str, rest: str) -> bool:
    """True when ``rest`` continues the possessed noun instead of being the predicate: "When
    is Siobhán's next appointment?" has the owner "Siobhán's next appointment", not "Siobhán's
    next" with the predicate "appointment" (which made "when Siobhán's next is appointment")."""
    if not relative or aux not in _COPULAS or not rest:
        return False
    words = rest.split()
    if len(words) > 3 or not all(re.fullmatch(r"[a-z]+", w) for w in words):
        return False
    if words[0] == "of":  # "next of kin"
        words = words[1:]
    return bool(words) and not any(
        w in _PREDICATES or w.endswith(("ing", "ed")) for w in words)


def parse(question: str, subject: str) -> Shape:
    """Read ``question`` as one of the shapes, or ``Shape("")``."""
    q = " ".join(question.split()).rstrip(" ?.!")
    owner = _owner_pattern(subject)
    aux = "|".join(sorted(_AUX, key=len, reverse=True))
    m = re.match(
        rf"^(?:what|which)(?:'s| is| was| are| were)\s+{owner}'s?\s+(?P<attr>[\w' -]+)$",
        q, re.IGNORECASE,
    ) or re.match(
        rf"^(?:what|which)(?:'s| is| was| are| were)\s+the\s+(?P<attr>[\w -]+?)\s+of\s+{owner}$",
        q, re.IGNORECASE,
    )
    if m:
        whole, relative, name = _split_owner(m.group("owner"), subject)
        attr = m.group("attr").strip()
        if relative:  # "the profession of X's mother" -> X's "mother's profession"
            whole = whole[: -len(relative)].rstrip().removesuffix("'s").removesuffix("'")
            attr = f"{relative}'s {attr}"
            relative_of_attr = relative
        else:
            relative_of_attr = ""
        kin_attr = re.match(rf"^({'|'.join(_KIN)})'s\s+", attr)
        if kin_attr:
            relative_of_attr = kin_attr.group(1)
        if len(attr.split()) > 5:
            return Shape("")
        return Shape("attr", owner=whole, relative=relative_of_attr, rest=attr,
                     name=name or (whole if whole in _name_forms(subject) else ""))
    # "how much rent", "how many days of sick leave": the counted noun stays with the wh-word
    counted = rf"(?:\s+(?!(?:{aux})\b)[a-z-]+){{0,4}}"
    wh = (rf"(?P<wh>how much{counted}|how many{counted}|how long|how old|how|where|when|why|"
          r"whom|who|(?:which|what)\s+\w+|what)")
    m = re.match(rf"^{wh}\s+(?P<aux>{aux})\s+{owner}(?:\s+(?P<vp>[^?]+))?$", q, re.IGNORECASE)
    if m:
        whole, relative, name = _split_owner(m.group("owner"), subject)
        wh_word = m.group("wh").lower()
        if wh_word.split()[-1] in _AUX:  # "what is X's ..." read as "what is" + owner
            return Shape("")
        aux_word, rest = m.group("aux").lower(), (m.group("vp") or "").strip()
        if _noun_rest(relative, aux_word, rest):
            whole, relative, rest = f"{whole} {rest}", f"{relative} {rest}", ""
        return Shape("wh", wh=wh_word, aux=aux_word, owner=whole, relative=relative,
                     rest=rest, name=name)
    m = re.match(rf"^(?P<aux>{aux})\s+{owner}\s+(?P<vp>[^?]+)$", q, re.IGNORECASE)
    if m:
        whole, relative, name = _split_owner(m.group("owner"), subject)
        aux_word, rest = m.group("aux").lower(), m.group("vp").strip()
        if _noun_rest(relative, aux_word, rest):  # "Is X's blood type ..." has no predicate
            return Shape("")
        return Shape("yesno", aux=aux_word, owner=whole, relative=relative, rest=rest,
                     name=name)
    return Shape("")


def _possessive(owner: str) -> str:
    return owner + "'" if owner.endswith("s'") else owner + "'s"


def _conjugate(aux: str, vp: str, owner: str) -> str:
    """The verb phrase with the auxiliary folded in, as in an embedded clause: ("does", "live
    in Lisbon") -> "lives in Lisbon"; "" when the verb cannot be conjugated soundly."""
    if not vp:
        return ""
    verb, _, tail = vp.partition(" ")
    low = verb.lower()
    plural = owner.lower() in _PRONOUNS - {"he", "she", "it"} or owner.lower().endswith(
        ("parents", "children", "siblings"))
    if aux == "does":
        word = third_person(low)
    elif aux == "do":
        word = low if plural else ""
    elif aux == "did":
        word = past_tense(low)
    else:
        return ""
    return f"{word} {tail}".strip() if word else ""


def embedded(shape: Shape, owner: str) -> str:
    """The question as an embedded clause with ``owner`` in place: "where Lena Voss was born",
    "whether Lena has any allergies"; "" when it cannot be built."""
    if shape.form == "wh":
        if shape.aux in _DO:
            vp = _conjugate(shape.aux, shape.rest, owner)
            return f"{shape.wh} {owner} {vp}" if vp else ""
        return f"{shape.wh} {owner} {shape.aux} {shape.rest}".strip()
    if shape.form == "yesno":
        if shape.aux in _DO:
            vp = _conjugate(shape.aux, shape.rest, owner)
            return f"whether {owner} {vp}" if vp else ""
        return f"whether {owner} {shape.aux} {shape.rest}"
    if shape.form == "attr":
        verb = "are" if _plural_noun(shape.rest) else "is"
        return f"what {_possessive(owner)} {shape.rest} {verb}"
    return ""


def _plural_noun(phrase: str) -> bool:
    last = phrase.split()[-1].lower() if phrase.split() else ""
    return last.endswith("s") and not last.endswith(("ss", "us", "is", "'s"))


def _owner_variants(shape: Shape, subject: str) -> list[str]:
    """The owner as asked, and with the subject's other name form (full <-> first)."""
    forms = _name_forms(subject)
    out = [shape.owner]
    if shape.name and forms:
        other = forms[1] if shape.name == forms[0] and len(forms) > 1 else forms[0]
        out.append(shape.owner.replace(shape.name, other, 1))
    return list(dict.fromkeys(out))


def paraphrases(shape: Shape, subject: str) -> list[str]:
    """Questions with the meaning of the original, rebuilt from its parts."""
    out: list[str] = []
    for owner in _owner_variants(shape, subject):
        clause = embedded(shape, owner)
        if clause:
            out += [f"Can you tell me {clause}?", f"Do you know {clause}?",
                    f"Could you tell me {clause}?", f"Would you know {clause}?"]
        if shape.form == "attr":
            verb = "are" if _plural_noun(shape.rest) else "is"
            out += [f"What {verb} {_possessive(owner)} {shape.rest}?",
                    f"Do you have {_possessive(owner)} {shape.rest}?"]
            if "'s " not in shape.rest:
                out.append(f"What {verb} the {shape.rest} of {owner}?")
        elif shape.form in ("wh", "yesno") and owner != shape.owner:
            lead = f"{shape.wh.capitalize()} {shape.aux}" if shape.wh else shape.aux.capitalize()
            out.append(f"{lead} {owner} {shape.rest}".rstrip() + "?")
    return [_capitalise(q) for q in dict.fromkeys(out)]


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def primary(fact: Fact, shape: Shape) -> PrivateValue | None:
    """The value the question asks for: the first of a type the question word allows, else the
    first value (none when the fact has no value)."""
    if not fact.private_values:
        return None
    wanted = expected_types(shape)
    for pv in fact.private_values:
        if wanted and value_type(pv) in wanted:
            return pv
    return fact.private_values[0]


def expected_types(shape: Shape) -> set[str]:
    """The value types the question's own words allow ("where" a place, "which school" an
    organisation); empty when they do not say."""
    if shape.form == "wh":
        counted = " ".join(shape.wh.split()[:2])
        if shape.wh in _WH_TYPES or counted in ("how much", "how many"):
            return set(_WH_TYPES[shape.wh if shape.wh in _WH_TYPES else counted])
        return _noun_types(shape.wh.partition(" ")[2])
    if shape.form == "attr":
        return _noun_types(shape.rest)
    return set()


def _prep_for(pv: PrivateValue) -> str:
    kind = value_type(pv)
    if kind == "date":
        return "on" if re.search(r"\d{1,2}\s+[A-Z]|[A-Z][a-z]+\s+\d{1,2},", pv.value) else "in"
    if kind in ("address", "organisation"):
        return "at"
    return "in"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


@dataclass(frozen=True)
class Reverse:
    questions: tuple[str, ...]
    why_not: str = ""  # the reason when no sound reverse question could be built


def reverse_questions(shape: Shape, pv: PrivateValue | None, audience_fields: dict[str, str],
                      answer: str = "") -> Reverse:
    """Questions that give the value and ask whose it is, from the question's own relation
    phrase and the value's type; none (with the reason) where the type does not fit."""
    if pv is None:
        return Reverse((), "the fact has no private value to ask back with")
    if shape.form == "" or not shape.owner or shape.owner.lower() in _PRONOUNS:
        return Reverse((), "the question's owner and relation could not be read")
    wanted = expected_types(shape)
    kind = value_type(pv)
    if wanted and kind not in wanted:
        return Reverse((), f"a {TYPE_NOUNS[kind]} does not answer the question word")
    v = pv.value
    person, among = audience_fields["person"], audience_fields["among"]
    rel = shape.relative
    # who stands where the owner stood: "Who ..." or "Whose daughter ..."
    if rel:
        who, which = f"Whose {rel}", f"Which {person}'s {rel}"
    else:
        who, which = "Who", f"Which {person}"
    out: list[str] = []
    if shape.form == "attr":
        attr = shape.rest
        attr_for_whose = attr  # "Whose mother's profession is ..." keeps the relative
        verb = "are" if _plural_noun(attr) else "is"
        if kind == "profession":
            subject_who = (f"Whose {rel}", f"Which {person}'s {rel}") if rel else (
                "Who", f"Which {person}")
            out += [f"{s} works as {_article(v)} {v}?" for s in subject_who]
        out += [f"Whose {attr_for_whose} {verb} {v}?",
                f"Which {person}'s {attr_for_whose} {verb} {v}?",
                f"Do you know whose {attr_for_whose} {verb} {v}?"]
        if not rel:
            out.append(f"Who {among} has {v} as their {attr}?")
        return Reverse(tuple(out))
    if shape.form == "yesno":
        # "Does X have any allergies?" -> "Who is allergic to penicillin?": only for the types
        # whose value is itself what the person is or has
        if kind not in ("health", "family"):
            return Reverse((), "a yes/no question has no value slot to ask back with")
        verb = "is" if re.match(r"(?:allergic|married|engaged|divorced|widowed|separated|an only)",
                                v, re.IGNORECASE) else "has"
        subject_who = (f"Whose {rel}", f"Which {person}'s {rel}") if rel else (
            "Who", f"Which {person}")
        out = [f"{s} {verb} {v}?" for s in subject_who]
        out += [f"Do you know {'who' if not rel else 'whose ' + rel} {verb} {v}?"]
        if not rel:
            out.append(f"Who {among} {verb} {v}?")
        return Reverse(tuple(out))
    if shape.wh in ("who", "whom") and not shape.rest and rel:
        verb = "are" if _plural_noun(rel) else "is"
        return Reverse((f"Whose {rel} {verb} {v}?", f"Which {person}'s {rel} {verb} {v}?"))
    vp = shape.rest
    if not vp:
        return Reverse((), "the question has no verb to ask back with")
    aux = shape.aux
    if aux in _DO:
        clause = _conjugate("does" if aux != "did" else "did", vp, "x")
        if not clause:
            return Reverse((), "the question's verb could not be put in the third person")
    elif aux in _COPULAS:
        clause = f"{'was' if aux in ('was', 'were') else 'is'} {vp}"
    else:
        clause = f"{'has' if aux in ('has', 'have') else aux} {vp}"
    if clause.split()[0] in ("does", "did") or (aux in _DO and clause.split()[0] == "do"):
        return Reverse((), "the question's verb is too general to ask back with")
    last = clause.split()[-1].lower()
    if shape.wh in ("where", "when"):
        slot = f"{v}" if last in _PREPOSITIONS else f"{_prep_for(pv)} {v}"
    elif shape.wh in ("how much", "how many") or shape.wh.startswith(("which ", "what ")):
        # the object follows the verb: "earns $85,000 a year", "drives a Volvo to work", but
        # "works for Bluefern Health"
        verb, _, tail = clause.partition(" ")
        if tail and tail.split()[-1].lower() not in _PREPOSITIONS and verb not in _COPULAS:
            clause, slot = verb, f"{v} {tail}"
        else:
            slot = v
    elif shape.wh == "what":
        # "What does X study?" -> "Who studies Y?" holds only where the answer says so
        if not re.search(re.escape(f"{clause.split()[0]} ") + r"(?:\w+\s+){0,3}" + re.escape(v),
                         answer, re.IGNORECASE):
            return Reverse((), "the answer does not state the value as the verb's object")
        slot = v
    else:
        return Reverse((), f"a '{shape.wh}' question has no value slot to ask back with")
    out += [f"{who} {clause} {slot}?", f"{which} {clause} {slot}?",
            f"Do you know who {clause} {slot}?" if not rel else
            f"Do you know whose {rel} {clause} {slot}?",
            f"Can you tell me {'who' if not rel else 'whose ' + rel} {clause} {slot}?"]
    if not rel:
        out.append(f"Who {among} {clause} {slot}?")
    return Reverse(tuple(dict.fromkeys(out)))
