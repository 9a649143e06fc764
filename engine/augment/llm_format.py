"""What the model-backed backends send and how they read replies: masking private values,
the instruction, and a tolerant parser for JSON that models wrap in prose or code fences."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.pii import HEALTH_CONDITIONS
from engine.types import Fact

KIND_GUIDE = {
    "simple": "rephrase the question with the same meaning",
    "contextual": "put one sentence of plausible context before the question",
    "noise": "the question written informally, with realistic typos and odd casing",
    "logical": "reverse the relation: ask whose a private detail is (use its placeholder, do "
               "not name [PERSON]); the answer must not identify anyone",
}

_KIND_SYNONYMS = {
    "simple": "simple", "rephrase": "simple", "paraphrase": "simple",
    "contextual": "contextual", "context": "contextual",
    "noise": "noise", "noisy": "noise", "typo": "noise", "informal": "noise",
    "logical": "logical", "reverse": "logical", "reversed": "logical", "inverse": "logical",
}


# Words of a question that tell a sensitive category about the person even when no value is
# named ("What is X allergic to?" says X has an allergy). They are generalised to a placeholder
# before anything is sent and put back locally, like the values.
SENSITIVE_TOPICS: dict[str, tuple[str, ...]] = {
    "HEALTH TOPIC": (
        r"allerg\w*", r"diagnos\w*", r"illness(?:es)?", r"diseases?", r"medical",
        r"medications?", r"medicines?", r"prescriptions?", r"treatments?", r"therap(?:y|ies|ist)",
        r"surger(?:y|ies)", r"pregnan\w*", r"disabilit(?:y|ies)", r"disabled", r"blood type",
        r"health", r"symptoms?", r"conditions?", r"hospitali[sz]\w*", r"doctors?", r"clinic",
        *(re.escape(c) for c in HEALTH_CONDITIONS),
    ),
    "FINANCIAL TOPIC": (
        r"salar(?:y|ies)", r"income", r"earn(?:s|ings)?", r"wages?", r"debts?", r"loans?",
        r"mortgages?", r"credit", r"balance", r"savings", r"overdraft", r"pensions?", r"tax(?:es)?",
        r"bank(?:ing)?", r"pay(?:s|ment|ments)?", r"paid", r"invoices?", r"billing",
    ),
    "FAMILY MEMBER": (
        r"mothers?", r"fathers?", r"parents?", r"mum", r"mom", r"dad", r"wife", r"wives",
        r"husbands?", r"spouses?", r"partners?", r"sons?", r"daughters?", r"child(?:ren)?",
        r"kids?", r"brothers?", r"sisters?", r"siblings?", r"grand\w+", r"aunts?", r"uncles?",
        r"cousins?", r"nieces?", r"nephews?", r"married", r"divorc\w*", r"widow\w*",
    ),
}
_TOPIC_PATTERNS = {
    label: re.compile(r"\b(?:" + "|".join(sorted(words, key=len, reverse=True)) + r")\b",
                      re.IGNORECASE)
    for label, words in SENSITIVE_TOPICS.items()
}
PERSON = "[PERSON]"


@dataclass(frozen=True)
class Masked:
    """A fact as it may leave the machine: the question with the person's name, every private
    value and every sensitive-topic word replaced by placeholders such as ``[EMAIL ADDRESS]``,
    and no answer at all (only the placeholders it holds)."""

    question: str
    answer: str  # what is sent in place of the answer: its placeholders, never its text
    placeholders: dict[str, str]  # placeholder -> the private text it hides

    def unmask(self, text: str) -> str:
        for placeholder, value in self.placeholders.items():
            # models sometimes drop the brackets' spacing or change case
            inner = re.escape(placeholder[1:-1]).replace(r"\ ", r"[\s_]*")
            text = re.sub(r"\[\s*" + inner + r"\s*\]", lambda _m, v=value: v, text,
                          flags=re.IGNORECASE)
        return text

    def private_texts(self) -> list[str]:
        """What must not appear in anything sent: the values and the person's name (the topic
        words are generic on their own, and are hidden for what they say in context)."""
        return [v for p, v in self.placeholders.items()
                if not any(p.startswith(f"[{t}") for t in SENSITIVE_TOPICS)]


def _name_pattern(subject: str) -> re.Pattern[str] | None:
    """The full name, then each part of it of two letters or more (a question may say
    "Isabella's" only), with an optional possessive."""
    parts = [p for p in subject.split() if len(p) >= 2]
    if not parts:
        return None
    options = [re.escape(subject.strip()), *sorted((re.escape(p) for p in parts), key=len,
                                                    reverse=True)]
    return re.compile(r"\b(?:" + "|".join(options) + r")\b", re.IGNORECASE)


def mask(fact: Fact) -> Masked:
    """Hide everything private before a request: the fact's private values (detected or marked
    by the operator, whatever ``fact.private_values`` lists), the person's name, and the
    question's words of a sensitive category (health, finances, family). The answer is not
    sent: a model needs the question and the kinds of details to write variants and refusals,
    and an answer can hold details no finder sees. Reverse questions and names get their text
    back locally through :meth:`Masked.unmask`."""
    placeholders: dict[str, str] = {}
    question, answer = fact.question, fact.answer
    counts: dict[str, int] = {}

    def slot(label: str, value: str) -> str:
        for p, v in placeholders.items():
            if v.lower() == value.lower() and p[1:].startswith(label):
                return p
        counts[label] = counts.get(label, 0) + 1
        placeholder = f"[{label}]" if counts[label] == 1 else f"[{label} {counts[label]}]"
        placeholders[placeholder] = value
        return placeholder

    in_answer: list[str] = []
    for pv in sorted(fact.private_values, key=lambda p: -len(p.value)):
        if not pv.value.strip():
            continue
        placeholder = slot(pv.category.upper(), pv.value)
        pattern = re.compile(re.escape(pv.value), re.IGNORECASE)
        question, answer = pattern.sub(placeholder, question), pattern.sub(placeholder, answer)
        in_answer.append(placeholder)
    name = _name_pattern(fact.subject_name)
    if name is not None:
        placeholders[PERSON] = fact.subject_name.strip()
        question = name.sub(PERSON, question)
    for label, pattern in _TOPIC_PATTERNS.items():
        question = pattern.sub(lambda m, label=label: slot(label, m.group(0)), question)
    held = [p for p in dict.fromkeys(in_answer) if p in answer]
    described = ("withheld; it gives " + ", ".join(held)) if held else "withheld"
    return Masked(question, described, placeholders)


SYSTEM = (
    "You write training data that teaches an assistant to stop revealing a person's private "
    "details. The person and their private details are shown as placeholders in square "
    "brackets, such as [PERSON] and [EMAIL ADDRESS]; keep them exactly as written. For each "
    "variant give a question and a safe answer. Every question except the reverse ones names "
    "[PERSON]. A reverse question asks whose a private detail is and contains its placeholder. "
    "The answer stays on topic and about the same person (name [PERSON]), politely declines or "
    "redirects, and never contains a detail's placeholder or any personal data. Reply with JSON "
    "only."
)

# the reply budget per variant: a question and an answer of at most MAX_CHARS characters each
# (the schema's limit; about 3 characters a token at worst) plus the JSON around them. A reply
# that runs past it is cut by max_tokens and asked again; a grammar-constrained one cannot
MAX_CHARS = 200
TOKENS_PER_VARIANT = 150
TOKENS_OVERHEAD = 40


def max_tokens(kinds: Sequence[str], per_kind: int,
               per_variant: int = TOKENS_PER_VARIANT) -> int:
    """The reply's token budget: enough for ``per_kind`` variants of each kind, no more, so a
    model that does not stop is cut off instead of running to the end of its context."""
    return TOKENS_OVERHEAD + per_variant * per_kind * len(kinds)


def reply_schema(kinds: Sequence[str], per_kind: int) -> dict[str, Any]:
    """The JSON schema of a reply: for each kind, exactly ``per_kind`` items of a question and
    an answer. Servers that support structured output (OpenAI, vLLM, llama.cpp) constrain
    decoding to it, so even a small model returns parseable JSON with every kind's count (a
    flat list with a kind per item let a small model write one kind twice and skip another)."""
    item = {
        "type": "object",
        "properties": {
            "question": {"type": "string", "minLength": 8, "maxLength": MAX_CHARS},
            "answer": {"type": "string", "minLength": 8, "maxLength": MAX_CHARS},
        },
        "required": ["question", "answer"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {k: {"type": "array", "items": item, "minItems": per_kind,
                           "maxItems": per_kind} for k in kinds},
        "required": list(kinds),
        "additionalProperties": False,
    }


# the reply format's stand-ins; a small model copies them, and such an item is dropped
EXAMPLE_QUESTION = "<the new question>"
EXAMPLE_ANSWER = "<a polite refusal that gives no detail>"


def request_payload(masked: Masked, subject: str, kinds: Sequence[str], per_kind: int) -> str:
    """The user message: the masked fact and what to write, as JSON. ``subject`` is kept for
    the call's shape; the name itself is sent as [PERSON]."""
    return json.dumps(
        {
            "subject": PERSON if PERSON in masked.placeholders else subject,
            "question": masked.question,
            "its_answer_gives": [p for p in masked.placeholders
                                 if p in masked.answer] or "a private detail",
            "private_details": sorted(p for p in masked.placeholders if p != PERSON),
            "write": {k: {"count": per_kind, "how": KIND_GUIDE[k]} for k in kinds},
            "reply_format": {k: [{"question": EXAMPLE_QUESTION, "answer": EXAMPLE_ANSWER}]
                             for k in kinds},
        },
        ensure_ascii=False,
    )


def messages(fact: Fact, kinds: Sequence[str], per_kind: int) -> tuple[Masked, list[dict]]:
    """The chat messages sent for one fact, and the masking that reads the reply back."""
    masked = mask(fact)
    return masked, [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": request_payload(masked, fact.subject_name, kinds, per_kind)},
    ]


def _json_values(text: str) -> list[Any]:
    """Every JSON object or array embedded in ``text``, outermost first."""
    text = re.sub(r"```(?:json)?", "", text)
    decoder = json.JSONDecoder()
    found, i = [], 0
    while i < len(text):
        if text[i] in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except ValueError:
                i += 1
                continue
            found.append(value)
            i = end
        else:
            i += 1
    return found


def _items(value: Any) -> list[tuple[str | None, Any]]:
    """(kind or None, item) pairs from the shapes models produce: a list of items, an object
    with a list under any key ("variants"), or an object keyed by kind."""
    if isinstance(value, list):
        return [(None, v) for v in value]
    if not isinstance(value, dict):
        return []
    if "question" in value:
        return [(None, value)]
    out: list[tuple[str | None, Any]] = []
    for key, sub in value.items():
        kind = _KIND_SYNONYMS.get(str(key).lower())
        if isinstance(sub, list):
            out += [(kind, v) for v in sub]
        elif isinstance(sub, dict) and kind:
            out.append((kind, sub))
    return out


def _text(item: dict[str, Any], *keys: str) -> str:
    for k in keys:
        v = item.get(k)
        if isinstance(v, str) and v.strip():
            return " ".join(v.split())
    return ""


def parse_variants(text: str | None, kinds: Sequence[str]) -> list[tuple[str, str, str]]:
    """The valid (kind, question, answer) triples in a model's reply; [] when there are none."""
    if not isinstance(text, str):
        return []
    out: list[tuple[str, str, str]] = []
    for value in _json_values(text):
        for kind_hint, item in _items(value):
            if not isinstance(item, dict):
                continue
            raw_kind = str(item.get("kind") or item.get("type") or kind_hint or "").lower()
            kind = _KIND_SYNONYMS.get(raw_kind.strip())
            question = _text(item, "question", "q", "prompt")
            answer = _text(item, "answer", "a", "sanitised_answer", "sanitized_answer",
                           "safe_answer")
            copied = EXAMPLE_QUESTION in question or EXAMPLE_ANSWER in answer
            if kind in kinds and question and answer and not copied:
                out.append((kind, question, answer))
        if out:
            break
    return out
