"""The probe console's back end: one question, the deployed model's answer and the unlearned
model's answer, side by side. Models stay loaded between questions (a few hundred MB each)."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from relearn_tui.errors import OperatorError
from relearn_tui.store.models import Run

_lock = threading.Lock()


class ProbeError(OperatorError):
    pass


@lru_cache(maxsize=2)
def _loaded(spec: str) -> Any:
    from engine.models import load_model

    return load_model(spec)


def _answer(spec: str, question: str, max_new_tokens: int) -> str:
    from engine.audit import generate_batched

    with _lock:  # one generation at a time: the console is interactive, not a server
        m = _loaded(spec)
        return generate_batched(m.model, m.tokenizer, [question],
                                max_new_tokens=max_new_tokens, batch_size=1)[0]


def answer_pair(ctx, question: str, run_id: str | None = None, *,
                max_new_tokens: int = 64) -> tuple[str, str | None]:
    """Greedy answers of the deployed model and, when ``run_id`` names a finished run, of its
    merged (unlearned) model."""
    if not question.strip():
        raise ProbeError("type a question first")
    merged = None
    subject = None
    if run_id:
        with ctx.store.read() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise ProbeError(f"no run {run_id!r}")
            record = run.record or {}
        merged, subject = record.get("merged_dir"), record.get("subject")
        if not merged:
            raise ProbeError(f"run {run_id} has no merged model yet ({run.state})")
    if subject is None:
        from relearn_tui.runs import deployed_model

        subject = deployed_model(ctx)
    before = _answer(str(subject), question, max_new_tokens)
    after = _answer(str(merged), question, max_new_tokens) if merged else None
    return before, after
