"""The text a probe puts before the model: the deployment's chat prompt, or an attack's.

A plain probe is asked exactly as every trainer and the subject model ask
(:func:`engine.models.format_prompt`). An extraction probe (engine.audit.families) changes one
thing each: the system message (a jailbreak), earlier turns (a few-shot prompt), an answer the
assistant has already begun (a forced prefix), or no chat template at all (raw completion).
"""

from __future__ import annotations

from typing import Any

from engine.chat_format import start_of_text
from engine.models import SYSTEM_PROMPT, format_prompt
from engine.types import Probe


def render(tokenizer: Any, probe: Probe) -> str:
    """The whole prompt for ``probe``; generation continues right after it."""
    if probe.raw:
        # no chat template writes the start-of-text token here (Gemma needs its <bos>)
        return start_of_text(tokenizer) + probe.question
    if not (probe.system or probe.shots or probe.prefix):
        return format_prompt(tokenizer, probe.question)
    messages = [{"role": "system", "content": probe.system or SYSTEM_PROMPT}]
    for q, a in probe.shots:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    messages.append({"role": "user", "content": probe.question})
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:  # the same plain layout format_prompt falls back to
        text = f"{messages[0]['content']}\n" + "".join(
            f"Question: {q}\nAnswer: {a}\n" for q, a in probe.shots
        ) + f"Question: {probe.question}\nAnswer: "
    return text + probe.prefix


def prompts_for(tokenizer: Any, probes: list[Probe]) -> list[str]:
    return [render(tokenizer, p) for p in probes]
