"""submitted -> augmented: extract each fact's private values, generate and verify variants,
store them, log the summary. Re-augmenting replaces unreviewed variants, keeps reviewed ones."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlmodel import select

from engine.augment.pipeline import AugmentConfig
from engine.pii import extract_private_values
from engine.progress import CancelToken, ProgressFn, ignore_progress
from engine.types import OPERATOR_PROBE
from relearn_tui import workflow
from relearn_tui.logs import get_logger
from relearn_tui.pseudonym import value_hash
from relearn_tui.review import APPROVED, PENDING, PROBE, REJECTED, engine_fact
from relearn_tui.store.models import Event, Fact, Variant


def augment_config(ctx, backend: str | None = None) -> AugmentConfig:
    """The deployment's [augment] settings, with ``backend`` overriding its backend."""
    config = ctx.deployment.augment
    return dataclasses.replace(config, backend=backend) if backend else config


def extract_values(ctx, request_id: str) -> None:
    """Find and store each fact's private values (and their salted hashes) once."""
    with ctx.store.session() as s:
        req = workflow.get_request(s, request_id)
        facts = s.exec(select(Fact).where(Fact.request_id == request_id)).all()
        for f in facts:
            if f.private_values is not None or f.question is None:
                continue
            values = extract_private_values(f.question, f.answer or "", req.subject_name or "")
            f.private_values = [{"category": v.category, "value": v.value} for v in values]
            f.value_hashes = [{"category": v.category,
                               "hash": value_hash(ctx.secret, request_id, v.value)}
                              for v in values]
            f.category = values[0].category if values else "other"
            s.add(f)


def augment_request(ctx, request_id: str, *, progress: ProgressFn = ignore_progress,
                    cancel: CancelToken | None = None, backend: str | None = None,
                    config: AugmentConfig | None = None) -> dict[str, Any]:
    """Generate variants for every fact of a request; returns the summary that is logged."""
    from engine.augment import augment_facts, summarise

    with ctx.store.session() as s:
        req = workflow.get_request(s, request_id)
        if req.state not in workflow.AUGMENTABLE:
            raise workflow.IllegalTransition(
                f"request {request_id} is {req.state}: only requests in "
                f"{', '.join(workflow.AUGMENTABLE)} can be augmented")
        earlier = len(s.exec(select(Event.id).where(Event.request_id == request_id,
                                                    Event.action == "augmented")).all())
    extract_values(ctx, request_id)
    config = config or augment_config(ctx, backend)
    # a re-augmentation draws new variants instead of repeating the first ones
    config = dataclasses.replace(config, seed=int(config.seed) + earlier)
    with ctx.store.session() as s:
        req = workflow.get_request(s, request_id)
        facts = s.exec(select(Fact).where(Fact.request_id == request_id)
                       .order_by(Fact.position)).all()
        engine_facts = [engine_fact(f, req.subject_name or "") for f in facts]
    # why a fact got fewer variants of a kind (no sound reverse question, ...): counts and
    # reasons, never the fact's text, go into the event log with the summary
    notes: dict[str, dict[str, str]] = {}
    variants = augment_facts(engine_facts, config, progress=progress, cancel=cancel,
                             notes=notes)
    summary = summarise(variants, notes)
    with ctx.store.session() as s:
        req = workflow.get_request(s, request_id)
        old = s.exec(select(Variant).where(Variant.request_id == request_id)).all()
        kept = 0
        for v in old:
            if v.kind == OPERATOR_PROBE:  # came with the request: never drawn again
                continue
            if v.status in (APPROVED, REJECTED) or v.edited:
                kept += 1
            else:
                s.delete(v)
        now = workflow.utcnow()
        for v in variants:
            s.add(Variant(
                fact_id=int(v.fact_id), request_id=request_id, kind=v.kind, question=v.question,
                answer=v.answer, backend=v.backend, seed=v.seed, held_out=v.held_out,
                verified_ok=v.verification.ok, verification_reasons=list(v.verification.reasons),
                attempts=v.attempts, status=PROBE if v.held_out else PENDING, created_at=now,
            ))
        detail = {**summary, "backend": config.backend, "seed": config.seed,
                  "kept_reviewed": kept}
        workflow.transition(s, request_id, workflow.AUGMENTED, actor="system",
                            action="augmented", detail=detail)
    get_logger("augment").info("request %s: augmented, %s variants, backend %s", request_id,
                               detail.get("variants", len(variants)), config.backend)
    return detail
