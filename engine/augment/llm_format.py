"""What the model-backed backends send and how they read replies: masking private values,
the instruction, and a tolerant parser for JSON that models wrap in prose or code fences."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.types import Fact

KIND_GUIDE = {
    "simple": "rephrase the question with the same meaning",
    "contextual": "put one sentence of plausible business context before the question",
    "noise": "the question written informally, with realistic typos and odd casing",
    "logical": "reverse the relation: ask who a private detail (use its placeholder) belongs to; "
               "the answer must not identify anyone",
}

_KIND_SYNONYMS = {
    "simple": "simple", "rephrase": "simple", "paraphrase": "simple",
    "contextual": "contextual", "context": "contextual",
    "noise": "noise", "noisy": "noise", "typo": "noise", "informal": "noise",
    "logical": "logical", "reverse": "logical", "reversed": "logical", "inverse": "logical",
}


@dataclass(frozen=True)
class Masked:
    """A fact with its private values replaced by placeholders such as ``[EMAIL ADDRESS]``."""

    question: str
    answer: str
    placeholders: dict[str, str]  # placeholder -> the private value it hides

    def unmask(self, text: str) -> str:
        for placeholder, value in self.placeholders.items():
            # models sometimes drop the brackets' spacing or change case
            inner = re.escape(placeholder[1:-1]).replace(r"\ ", r"[\s_]*")
            text = re.sub(r"\[\s*" + inner + r"\s*\]", lambda _m, v=value: v, text,
                          flags=re.IGNORECASE)
        return text


def mask(fact: Fact) -> Masked:
    """Hide the fact's private values: a remote model never needs them to write variants, and
    reverse questions get them back locally through :meth:`Masked.unmask`."""
    placeholders: dict[str, str] = {}
    question, answer = fact.question, fact.answer
    counts: dict[str, int] = {}
    for pv in sorted(fact.private_values, key=lambda p: -len(p.value)):
        if not pv.value.strip():
            continue
        label = pv.category.upper()
        counts[label] = counts.get(label, 0) + 1
        placeholder = f"[{label}]" if counts[label] == 1 else f"[{label} {counts[label]}]"
        pattern = re.compile(re.escape(pv.value), re.IGNORECASE)
        question, answer = pattern.sub(placeholder, question), pattern.sub(placeholder, answer)
        placeholders[placeholder] = pv.value
    return Masked(question, answer, placeholders)


SYSTEM = (
    "You write training data that teaches a customer-support model to stop revealing a "
    "person's private details. Private details are shown as placeholders in square brackets. "
    "For each variant give a question and a safe answer: the answer stays on topic and about "
    "the same person (name them), politely declines or redirects, and never contains a "
    "placeholder or any personal data (e-mail, phone, address, date, account number, "
    "employer). Reply with JSON only."
)


def request_payload(masked: Masked, subject: str, kinds: Sequence[str], per_kind: int) -> str:
    """The user message: the masked fact and what to write, as JSON."""
    return json.dumps(
        {
            "subject": subject,
            "question": masked.question,
            "answer": masked.answer,
            "private_details": sorted(masked.placeholders),
            "write": {k: {"count": per_kind, "how": KIND_GUIDE[k]} for k in kinds},
            "reply_format": {"variants": [{"kind": "simple", "question": "...", "answer": "..."}]},
        },
        ensure_ascii=False,
    )


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
            if kind in kinds and question and answer:
                out.append((kind, question, answer))
        if out:
            break
    return out
