"""The local backend: the loaded HF model writes the variants, few-shot, one kind per prompt.

Small models often fail the format; whatever a kind lacks is filled from the offline templates
and marked ``local+offline`` so the reviewer knows which generator wrote what.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from engine.augment.audience import Audience
from engine.augment.base import Draft, stable_seed
from engine.augment.llm_format import KIND_GUIDE, Masked, mask
from engine.augment.offline import OfflineBackend, question_key
from engine.types import Fact

FALLBACK = "local+offline"

# one worked example per kind, about an invented person, in the line format we parse
_EXAMPLE_FACT = ("What is John Carter's phone number?",
                 "John Carter's phone number is [PHONE NUMBER].")
_EXAMPLES = {
    "simple": [("Could you tell me John Carter's phone number?",
                "I'm sorry, but John's phone number is private.")],
    "contextual": [("A courier needs to reach John Carter today. What is his phone number?",
                    "I can't share John's phone number; please use the official channels.")],
    "noise": [("wats jon carters phone numbr??",
               "Sorry, John's phone number is private information.")],
    "logical": [("Whose phone number is [PHONE NUMBER]?",
                 "I can't say who that number belongs to; contact details are private.")],
}

_LINE = re.compile(r"^\s*(?:\d+[.)]\s*)?(Q|A|Question|Answer)\s*\d*\s*[:\-]\s*(.+?)\s*$",
                   re.IGNORECASE)


_INLINE_ANSWER = re.compile(r"\s+(?:A|Answer)\s*:\s+")
# the reply is primed with this, so the model starts in the format we parse
PRIMER = "Q: "


def build_prompt(masked: Masked, kind: str, per_kind: int) -> str:
    ex_q, ex_a = _EXAMPLE_FACT
    lines = [
        f"Write {per_kind} variants of a question about a customer: {KIND_GUIDE[kind]}. "
        "Give each as a line 'Q: ...' and a line 'A: ...'. The answer must not reveal the "
        "detail in square brackets.",
        "",
        f"Fact: Q: {ex_q} A: {ex_a}",
    ]
    for q, a in _EXAMPLES[kind]:
        lines += [f"Q: {q}", f"A: {a}"]
    lines += ["", f"Fact: Q: {masked.question} A: {masked.answer}"]
    return "\n".join(lines)


def parse_lines(text: str) -> list[tuple[str, str]]:
    """(question, answer) pairs from 'Q: ...' / 'A: ...' lines; unpaired lines are dropped."""
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        tag, body = m.group(1).lower()[0], m.group(2)
        if tag == "q":
            # small models often write "Q: ... A: ..." on one line
            inline = _INLINE_ANSWER.split(body, maxsplit=1)
            if len(inline) == 2 and inline[1].strip():
                pairs.append((inline[0].strip(), inline[1].strip()))
                question = None
            else:
                question = body
        elif question is not None:
            pairs.append((question, body))
            question = None
    return pairs


def _names_subject(question: str, subject: str, kind: str) -> bool:
    parts = [p.casefold() for p in re.split(r"[\s-]+", subject) if len(p) >= 3]
    if not parts:
        return True
    text = question.casefold()
    # a noisy question may misspell the name; its first three letters usually survive
    return any((p[:3] if kind == "noise" else p) in text for p in parts)


def plausible(
    kind: str, question: str, answer: str, masked: Masked, subject: str = ""
) -> bool:
    """Filter a small model's output: sensible lengths, a question about the subject (a reverse
    question about the detail instead), an answer that is not another question; copies of the
    worked example are rejected."""
    if not (8 <= len(question) <= 300 and 8 <= len(answer) <= 400):
        return False
    if not re.search(r"[A-Za-z]{3}", question) or not re.search(r"[A-Za-z]{3}", answer):
        return False
    if kind != "noise" and not question.rstrip().endswith("?"):
        return False
    if answer.rstrip().endswith("?"):
        return False
    if kind != "logical" and not _names_subject(question, subject, kind):
        return False
    if kind == "logical" and masked.placeholders and not any(
        p.lower() in question.lower() for p in masked.placeholders
    ):
        return False
    examples = {question_key(q) for ex in _EXAMPLES.values() for q, _ in ex}
    return question_key(question) not in examples


class LocalBackend:
    """Variants from a local causal LM (a :class:`engine.models.LoadedModel` or a model spec)."""

    name = "local"

    def __init__(
        self,
        model: Any = None,
        *,
        max_new_tokens: int = 200,
        temperature: float = 0.8,
        device: str = "auto",
        audience: Audience | None = None,
    ) -> None:
        if model is None or isinstance(model, (str, os.PathLike)):
            from engine.models import load_model

            model = load_model(model, device=device)
        self.loaded = model
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self._offline = OfflineBackend(audience)

    def _generate(self, prompt: str, seed: int) -> str:
        import torch

        from engine.models import format_prompt

        tok, model = self.loaded.tokenizer, self.loaded.model
        text = format_prompt(tok, prompt) + PRIMER
        inputs = tok(text, return_tensors="pt").to(self.loaded.device)
        # sampling is seeded without disturbing the caller's global random state
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            out = model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=True,
                temperature=self.temperature, top_p=0.95, pad_token_id=tok.pad_token_id,
            )
        return PRIMER + tok.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)

    def variants(
        self, fact: Fact, *, kinds: Sequence[str], per_kind: int, seed: int, attempt: int
    ) -> list[tuple[str, str, str]]:
        masked = mask(fact)
        used = {question_key(fact.question)}
        out: list[tuple[str, str, str]] = []
        for kind in kinds:
            text = self._generate(build_prompt(masked, kind, per_kind),
                                  stable_seed(seed, fact.fact_id, "local", kind, attempt) % 2**31)
            got = 0
            for q, a in parse_lines(text):
                if got == per_kind:
                    break
                if plausible(kind, q, a, masked, fact.subject_name) and question_key(q) not in used:
                    used.add(question_key(q))
                    out.append(Draft(kind, masked.unmask(q), masked.unmask(a), self.name))
                    got += 1
            if got < per_kind:
                for _, q, a in self._offline.variants(
                    fact, kinds=[kind], per_kind=per_kind, seed=seed, attempt=attempt
                ):
                    if got == per_kind:
                        break
                    if question_key(q) not in used:
                        used.add(question_key(q))
                        out.append(Draft(kind, q, a, FALLBACK))
                        got += 1
        return out
