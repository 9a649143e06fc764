"""Purging a verified, reported request's personal data from the database.

What stays: pseudonym, categories, salted value hashes, figures, the event log. What goes:
names, references, the request file's name, fact texts, private values, variant texts,
generated probe answers, and any text of a run's shared (retain) probe records that holds the
request's name or a word of it, reference, a private value or a contact detail of its answers. On
SQLite, secure_delete zeroes freed pages and a WAL checkpoint clears old page images, so the
values are gone from the file itself, not only from the tables.
"""

from __future__ import annotations

from sqlmodel import select

from engine.pii import contains_value
from relearn_tui import workflow
from relearn_tui.freetext import name_parts, request_private_values
from relearn_tui.store.models import AuditResult, Event, Fact, Run, Variant


class PurgeError(workflow.WorkflowError):
    pass


def purge_request(ctx, request_id: str, *, actor: str) -> dict[str, int]:
    with ctx.store.session() as s:
        req = workflow.get_request(s, request_id)
        if req.state != workflow.VERIFIED:
            raise PurgeError(f"request {request_id} is {req.state}: only verified requests are "
                             "purged (the facts are needed until unlearning is proven)")
        reported = s.exec(select(Event.id).where(Event.request_id == request_id,
                                                 Event.action == "report_exported")).first()
        if reported is None:
            raise PurgeError(f"request {request_id}: export its report before purging")
        if req.purged_at is not None:
            return {}
        # read before the facts are cleared; a surname alone ("Okafor's account ...") names
        # the person in a retain answer as well as the whole name does
        values = request_private_values(s, request_id) + name_parts(req.subject_name)
        facts = s.exec(select(Fact).where(Fact.request_id == request_id)).all()
        for f in facts:
            f.question = f.answer = None
            f.private_values = None
            s.add(f)
        variants = s.exec(select(Variant).where(Variant.request_id == request_id)).all()
        for v in variants:
            v.question = v.answer = None
            s.add(v)
        audits = s.exec(select(AuditResult).where(AuditResult.request_id == request_id)).all()
        for a in audits:
            a.probe_records = None
            s.add(a)
        scrubbed = scrub_shared_records(s, request_id, values)
        req.subject_name = req.subject_reference = req.source = None  # a file name can name them
        req.purged_at = workflow.utcnow()
        s.add(req)
        counts = {"facts": len(facts), "variants": len(variants), "audit_rows": len(audits),
                  "shared_records_scrubbed": scrubbed}
        workflow.record_event(s, request_id, actor=actor, action="purged", detail=counts)
    scrub_sqlite(ctx)
    return counts


PURGED = "[purged]"


def scrub_shared_records(s, request_id: str, values: list[str]) -> int:
    """Blank every text field that holds one of ``values`` in the probe records a run keeps
    for all its requests together (its retain probes, ``request_id`` None), in each run that
    included the request; returns how many records changed. A retain answer is the model's own
    text and can name or quote a forgotten person ("Amara Okafor's email ..." answering about
    another customer), so clearing the request's own rows is not enough."""
    if not values:
        return 0
    runs = [r.id for r in s.exec(select(Run)).all() if request_id in (r.request_ids or [])]
    if not runs:
        return 0
    changed = 0
    shared = s.exec(select(AuditResult).where(AuditResult.run_id.in_(runs),
                                              AuditResult.request_id.is_(None))).all()
    for a in shared:
        records = [{k: PURGED if isinstance(v, str) and any(contains_value(v, x) for x in values)
                    else v for k, v in rec.items()} for rec in a.probe_records or []]
        hits = sum(new != old for new, old in zip(records, a.probe_records or [], strict=True))
        if hits:
            a.probe_records = records  # a new list: the JSON column sees the change
            s.add(a)
            changed += hits
    return changed


def scrub_sqlite(ctx) -> None:
    """Rewrite the SQLite file so no old page, free page or WAL frame keeps a purged value.

    secure_delete zeroes most freed content, but a page image already copied elsewhere (an
    earlier checkpoint, a moved cell) can survive it; VACUUM rebuilds the file from the live
    rows only, and the truncating checkpoint empties the WAL.
    """
    if ctx.store.engine.url.get_backend_name() != "sqlite":
        return
    raw = ctx.store.engine.raw_connection()  # autocommit: neither can run inside a transaction
    try:
        cur = raw.cursor()
        cur.execute("VACUUM")
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
