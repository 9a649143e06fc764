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
from relearn_tui.errors import OperatorError, UnavailableError, scrub
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


def outbound_requests(ctx, request_id: str, backend: str | None = None) -> list[dict[str, Any]]:
    """What augmenting the request would send to the backend's server, request body by
    request body (the first try of each fact), or a note that nothing is sent. Values are found
    in memory: nothing is stored and nothing is sent."""
    from engine.augment import make_backend, with_private_values
    from engine.augment.base import AugmentError
    from engine.augment.pipeline import backend_seed

    config = augment_config(ctx, backend)
    with ctx.store.session() as s:
        req = workflow.get_request(s, request_id)
        earlier, stopped, _ = _round(s, request_id)
        facts = s.exec(select(Fact).where(Fact.request_id == request_id)
                       .order_by(Fact.position)).all()
        engine_facts = []
        for f in facts:
            ef = engine_fact(f, req.subject_name or "")
            if f.private_values is None:
                found = extract_private_values(ef.question, ef.answer, ef.subject_name)
                ef = dataclasses.replace(ef, private_values=tuple(found))
            engine_facts.append(with_private_values(ef, use_presidio=config.use_presidio))
    config = dataclasses.replace(config, seed=int(config.seed) + earlier)
    try:
        made = make_backend(config.backend, config.audience, **config.backend_options)
    except AugmentError as exc:
        raise AugmentationSetupError(f"augmentation backend: {scrub(str(exc))}") from exc
    if not hasattr(made, "request_body"):
        return [{"fact": f.fact_id, "sent": None,
                 "note": f"the {made.name} backend sends nothing off this machine"}
                for f in engine_facts]
    return [{"fact": f.fact_id, "to": made.where,
             "body": made.request_body(f, kinds=config.kinds, per_kind=config.per_kind,
                                       seed=backend_seed(config, stopped))}
            for f in engine_facts]


class AugmentationStopped(UnavailableError):
    """The augmentation server cannot be used right now: the request keeps its state, the facts
    finished so far are stored, and running the same command again sends only the rest."""


class AugmentationSetupError(OperatorError):
    """The augmentation backend cannot be built from the settings (a missing key, a bad
    option): nothing was sent and nothing changed."""


def _round(s, request_id: str) -> tuple[int, int, Any]:
    """(augmentations done, tries of the current one that stopped early, when the last
    augmentation finished)."""
    events = s.exec(select(Event).where(Event.request_id == request_id,
                                        Event.action.in_((AUGMENTED_ACTION, STOPPED_ACTION)))
                    .order_by(Event.id)).all()
    done = [e for e in events if e.action == AUGMENTED_ACTION]
    since = events[events.index(done[-1]) + 1:] if done else events
    return len(done), len(since), (done[-1].at if done else None)


AUGMENTED_ACTION, STOPPED_ACTION = "augmented", "augment_stopped"


def _finished_facts(s, request_id: str, seed: int, after: Any) -> set[int]:
    """Facts an earlier try of this augmentation stored before it stopped: their unreviewed
    variants carry this round's seed and are newer than the last finished augmentation."""
    rows = s.exec(select(Variant).where(Variant.request_id == request_id,
                                        Variant.seed == seed,
                                        Variant.kind != OPERATOR_PROBE,
                                        Variant.status.in_((PENDING, PROBE)))).all()
    return {v.fact_id for v in rows
            if after is None or _aware(v.created_at) > _aware(after)}


def _aware(at: Any) -> Any:
    from datetime import UTC

    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _engine_variant(v: Variant):
    from engine.types import Variant as EngineVariant
    from engine.types import Verification

    return EngineVariant(fact_id=str(v.fact_id), kind=v.kind, question=v.question or "",
                         answer=v.answer or "", backend=v.backend, seed=v.seed,
                         held_out=v.held_out,
                         verification=Verification(v.verified_ok,
                                                   tuple(v.verification_reasons or ())),
                         attempts=v.attempts)


def _store_fact(ctx, request_id: str, fact_id: int, variants) -> None:
    """Replace one fact's unreviewed variants by its new ones, in one transaction, as soon as
    the fact is done: a later failure keeps it."""
    with ctx.store.session() as s:
        for v in s.exec(select(Variant).where(Variant.request_id == request_id,
                                              Variant.fact_id == fact_id)).all():
            # an operator's probe came with the request: it is never drawn again
            if v.kind != OPERATOR_PROBE and not (v.status in (APPROVED, REJECTED) or v.edited):
                s.delete(v)
        now = workflow.utcnow()
        for v in variants:
            s.add(Variant(
                fact_id=fact_id, request_id=request_id, kind=v.kind, question=v.question,
                answer=v.answer, backend=v.backend, seed=v.seed, held_out=v.held_out,
                verified_ok=v.verification.ok, verification_reasons=list(v.verification.reasons),
                attempts=v.attempts, status=PROBE if v.held_out else PENDING, created_at=now,
            ))


def augment_request(ctx, request_id: str, *, progress: ProgressFn = ignore_progress,
                    cancel: CancelToken | None = None, backend: str | None = None,
                    config: AugmentConfig | None = None) -> dict[str, Any]:
    """Generate variants for every fact of a request; returns the summary that is logged.

    Each fact's variants are stored as soon as they exist. When the backend's server cannot be
    used (:class:`engine.augment.base.BackendUnavailable`) the request keeps its state, an
    ``augment_stopped`` event records how far it got, and :class:`AugmentationStopped` is
    raised; the next try sends only the facts still missing, with other seeds."""
    from engine.augment import augment_facts, summarise
    from engine.augment.base import AugmentError, BackendUnavailable

    with ctx.store.session() as s:
        req = workflow.get_request(s, request_id)
        if req.state not in workflow.AUGMENTABLE:
            raise workflow.IllegalTransition(
                f"request {request_id} is {req.state}: only requests in "
                f"{', '.join(workflow.AUGMENTABLE)} can be augmented")
        earlier, stopped, last_done = _round(s, request_id)
    extract_values(ctx, request_id)
    config = config or augment_config(ctx, backend)
    # a re-augmentation draws new variants instead of repeating the first ones; a try after
    # one that stopped early keeps the round (its finished facts count) but other seeds
    config = dataclasses.replace(config, seed=int(config.seed) + earlier)
    with ctx.store.session() as s:
        req = workflow.get_request(s, request_id)
        facts = s.exec(select(Fact).where(Fact.request_id == request_id)
                       .order_by(Fact.position)).all()
        engine_facts = [engine_fact(f, req.subject_name or "") for f in facts]
        finished = _finished_facts(s, request_id, config.seed, last_done)
    # why a fact got fewer variants of a kind (no sound reverse question, ...): counts and
    # reasons, never the fact's text, go into the event log with the summary
    notes: dict[str, dict[str, str]] = {}
    log = get_logger("augment")
    try:
        augment_facts(engine_facts, config, progress=progress, cancel=cancel, notes=notes,
                      skip={str(i) for i in finished}, retry=stopped,
                      on_fact=lambda f, vs: _store_fact(ctx, request_id, int(f.fact_id), vs))
    except BackendUnavailable as exc:
        with ctx.store.session() as s:
            done = len(_finished_facts(s, request_id, config.seed, last_done))
            workflow.record_event(s, request_id, actor="system", action=STOPPED_ACTION,
                                  detail={"backend": config.backend, "seed": config.seed,
                                          "try": stopped + 1, "facts_done": done,
                                          "facts": len(engine_facts)})
        line = (f"request {request_id}: augmentation stopped after {done} of "
                f"{len(engine_facts)} facts: {scrub(str(exc))}; the request is unchanged and "
                "the finished facts are kept: run the same command again to send the rest")
        log.warning("%s", line)
        raise AugmentationStopped(line) from exc
    except AugmentError as exc:
        log.warning("request %s: augmentation not started: %s", request_id, scrub(str(exc)))
        raise AugmentationSetupError(f"request {request_id}: {scrub(str(exc))}") from exc
    with ctx.store.session() as s:
        req = workflow.get_request(s, request_id)
        rows = s.exec(select(Variant).where(Variant.request_id == request_id)).all()
        ours = [v for v in rows if v.seed == config.seed and v.status in (PENDING, PROBE)
                and v.kind != OPERATOR_PROBE
                and (last_done is None or _aware(v.created_at) > _aware(last_done))]
        summary = summarise([_engine_variant(v) for v in ours], notes)
        kept = sum(1 for v in rows if v.status in (APPROVED, REJECTED) or v.edited)
        detail = {**summary, "backend": config.backend, "seed": config.seed,
                  "kept_reviewed": kept,
                  **({"resumed_facts": len(finished), "tries": stopped + 1} if stopped else {})}
        workflow.transition(s, request_id, workflow.AUGMENTED, actor="system",
                            action=AUGMENTED_ACTION, detail=detail)
    log.info("request %s: augmented, %s variants, backend %s", request_id,
             detail.get("items", len(ours)), config.backend)
    return detail
