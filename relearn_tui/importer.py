"""Reading erasure requests from files (docs/design.md §4.1).

Parsing is separate from storing: :func:`parse_paths` validates everything and raises one
:class:`RequestFileError` naming file, line or index, and field; only then does
:func:`import_paths` write, in one transaction, so a bad file changes nothing.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, select

from relearn_tui import workflow
from relearn_tui.errors import OperatorError
from relearn_tui.freetext import name_parts, personal_formats
from relearn_tui.freetext import problem as kept_text_problem
from relearn_tui.pseudonym import pseudonym
from relearn_tui.store.models import Fact, Request
from relearn_tui.text import printable, unsafe_char

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FACTS = 500
MAX_PROBES = 20  # operator-written probe questions per fact
MAX_TEXT = 4000
MAX_NAME = 200
REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
CORPUS_NAMES = frozenset({"corpus.json", "corpus.jsonl"})
DEPLOYMENT_NAME = "deployment.toml"
_REQUEST_KEYS = frozenset({"request_id", "received_at", "subject", "ground", "facts"})
_SUBJECT_KEYS = frozenset({"name", "reference"})
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class RequestFileError(OperatorError):
    """One bad input, located: ``file: where: field: problem``. Never quotes a value."""

    def __init__(self, path: str | Path, where: str, field_name: str, problem: str) -> None:
        self.path, self.where, self.field, self.problem = str(path), where, field_name, problem
        parts = [self.path] + [p for p in (where, field_name) if p] + [problem]
        super().__init__(printable(": ".join(parts)))


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def _unknown_key(path: Path, where: str, prefix: str, key: str) -> RequestFileError:
    # A key is named only when it looks like a field name: a key can be anything, a private
    # value pasted in the wrong place or a megabyte of text included.
    if _PLAIN_KEY.fullmatch(key):
        return RequestFileError(path, where, f"{prefix}{key}", "unknown field")
    return RequestFileError(path, where, prefix.rstrip("."),
                            "unknown field (its name is not shown: not a plain field name)")


@dataclass(frozen=True)
class ParsedRequest:
    request_id: str
    received_at: datetime
    subject_name: str
    subject_reference: str | None
    ground: str | None
    facts: tuple[tuple[str, str], ...]
    content_hash: str
    source: str
    where: str
    generated_id: bool = False
    # what the event log keeps of the file: a file name can be a person's name or address
    file_sha256: str = ""
    file_index: int = 0
    # per fact (in order), the probe questions the operator wrote for the audit's
    # ``independent`` family: asked after unlearning, never trained on
    probes: tuple[tuple[str, ...], ...] = ()


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    files: int = 0


def _check_text(value: Any, path: Path, where: str, name: str, limit: int,
                required: bool = True, strict: bool = False) -> str | None:
    """A text field, stripped. ``strict`` (names, references, the ground: printed in tables,
    logs and reports) also refuses tabs, line breaks, bidi and zero-width characters."""
    if value is None and not required:
        return None
    if value is None:
        raise RequestFileError(path, where, name, "missing")
    if type(value) is not str:
        raise RequestFileError(path, where, name, f"must be a string, not {_json_type(value)}")
    if not value.strip():
        if not required:
            return None
        raise RequestFileError(path, where, name, "is empty")
    if len(value) > limit:
        raise RequestFileError(path, where, name, f"is {len(value)} characters (limit {limit})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestFileError(path, where, name,
                               "holds invalid unicode (lone surrogate)") from None
    if _BAD_CONTROL.search(value):
        raise RequestFileError(path, where, name, "holds control characters")
    bad = unsafe_char(value.strip()) if strict else None
    if bad:
        raise RequestFileError(path, where, name,
                               f"holds a control or invisible character ({bad})")
    return value.strip()


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), "a value")


def _parse_time(value: Any, path: Path, where: str, now: datetime) -> datetime | None:
    if value is None:
        return None
    if type(value) is not str:
        raise RequestFileError(path, where, "received_at",
                               f"must be an ISO 8601 string, not {_json_type(value)}")
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RequestFileError(path, where, "received_at",
                               "is not an ISO 8601 date-time (e.g. 2026-11-02T09:14:00Z)") from None
    try:
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 has no UTC equivalent
        raise RequestFileError(path, where, "received_at", "is out of range") from None
    if at > now + timedelta(days=1):
        raise RequestFileError(path, where, "received_at", "is in the future")
    if at.year < 2000:
        raise RequestFileError(path, where, "received_at", "is before the year 2000")
    return at


def _content_hash(name: str, reference: str | None, ground: str | None,
                  received: datetime | None, facts: Sequence[tuple[str, str]],
                  probes: Sequence[tuple[str, ...]] = ()) -> str:
    body = {"name": name, "reference": reference, "ground": ground,
            "received_at": received.isoformat() if received else None, "facts": list(facts)}
    if any(probes):  # only then: a request without probes keeps the hash it always had
        body["probes"] = [list(p) for p in probes]
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _probes(raw: Any, path: Path, where: str, name: str) -> tuple[str, ...]:
    """A fact's ``probes``: a list of probe questions (the audit asks them, training never
    sees them)."""
    if raw is None:
        return ()
    if type(raw) is not list:
        raise RequestFileError(path, where, name,
                               f"must be a list of questions, not {_json_type(raw)}")
    if len(raw) > MAX_PROBES:
        raise RequestFileError(path, where, name, f"has {len(raw)} questions (limit "
                               f"{MAX_PROBES})")
    out = [_check_text(q, path, where, f"{name}[{i}]", MAX_TEXT) or "" for i, q in enumerate(raw)]
    return tuple(dict.fromkeys(out))


def _facts(raw: Any, path: Path, where: str, prefix: str
           ) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, ...], ...]]:
    if raw is None:
        raise RequestFileError(path, where, prefix or "facts", "missing")
    if type(raw) is not list:
        raise RequestFileError(path, where, prefix or "facts",
                               f"must be a list, not {_json_type(raw)}")
    if not raw:
        raise RequestFileError(path, where, prefix or "facts", "is empty: nothing to forget")
    if len(raw) > MAX_FACTS:
        raise RequestFileError(path, where, prefix or "facts",
                               f"has {len(raw)} facts (limit {MAX_FACTS})")
    facts: list[tuple[str, str]] = []
    probes: list[tuple[str, ...]] = []
    for i, item in enumerate(raw):
        name = f"{prefix}[{i}]"
        if type(item) is not dict:
            raise RequestFileError(path, where, name, f"must be an object, not {_json_type(item)}")
        if "text" in item or "labels" in item:  # KnowUnDo layout
            keys, q_key, a_key = {"text", "labels", "probes"}, "text", "labels"
        else:
            keys, q_key, a_key = {"question", "answer", "probes"}, "question", "answer"
        extra = sorted(set(item) - keys)
        if extra:
            raise _unknown_key(path, where, f"{name}.", extra[0])
        q = _check_text(item.get(q_key), path, where, f"{name}.{q_key}", MAX_TEXT)
        a = _check_text(item.get(a_key), path, where, f"{name}.{a_key}", MAX_TEXT)
        facts.append((q or "", a or ""))
        probes.append(_probes(item.get("probes"), path, where, f"{name}.probes"))
    return tuple(facts), tuple(probes)


def parse_request(obj: Any, path: Path, where: str, now: datetime) -> ParsedRequest:
    """Validate one request object (docs/design.md §4.1)."""
    if type(obj) is not dict:
        raise RequestFileError(path, where, "",
                               f"a request must be an object, not {_json_type(obj)}")
    extra = sorted(set(obj) - _REQUEST_KEYS)
    if extra:
        raise _unknown_key(path, where, "", extra[0])
    subject = obj.get("subject")
    if subject is None:
        raise RequestFileError(path, where, "subject", "missing")
    if type(subject) is not dict:
        raise RequestFileError(path, where, "subject",
                               f"must be an object, not {_json_type(subject)}")
    extra = sorted(set(subject) - _SUBJECT_KEYS)
    if extra:
        raise _unknown_key(path, where, "subject.", extra[0])
    name = _check_text(subject.get("name"), path, where, "subject.name", MAX_NAME,
                       strict=True) or ""
    reference = _check_text(subject.get("reference"), path, where, "subject.reference",
                            MAX_NAME, required=False, strict=True)
    ground = _check_text(obj.get("ground"), path, where, "ground", 64, required=False,
                         strict=True)
    received = _parse_time(obj.get("received_at"), path, where, now)
    facts, probes = _facts(obj.get("facts"), path, where, "facts")
    if ground:
        # the ground is kept in the event log for good: it names an article, not the person
        private = [name, *([reference] if reference else []), *name_parts(name)]
        private += [v for _, answer in facts for v in personal_formats(answer)]
        why = kept_text_problem(ground, private)
        if why:
            raise RequestFileError(path, where, "ground", why)
    digest = _content_hash(name, reference, ground, received, facts, probes)
    rid = obj.get("request_id")
    generated = rid is None
    if generated:
        rid = "DSR-" + digest[:12].upper()
    elif type(rid) is not str:
        raise RequestFileError(path, where, "request_id",
                               f"must be a string, not {_json_type(rid)}")
    elif not REQUEST_ID.fullmatch(rid):  # match() would let a trailing newline through
        raise RequestFileError(path, where, "request_id",
                               "must be 1-64 letters, digits or . _ : - (starting with a letter "
                               "or digit)")
    elif rid.upper().startswith("RUN-"):
        raise RequestFileError(path, where, "request_id",
                               "must not start with RUN- (that names an unlearning run in "
                               "'relearn-tui report')")
    return ParsedRequest(rid, received or now, name, reference, ground, facts, digest,
                         path.name, where, generated,
                         probes=probes if any(probes) else ())


def _read(path: Path) -> tuple[str, str]:
    """The file's text and the sha256 of its bytes."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RequestFileError(path, "", "", f"cannot read: {exc.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise RequestFileError(path, "", "", f"is {size / 2**20:.1f} MiB "
                               f"(limit {MAX_FILE_BYTES // 2**20} MiB)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RequestFileError(path, "", "", f"cannot read: {exc.strerror}") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise RequestFileError(path, f"byte {nul}", "", "binary data, not JSON")
    try:
        return data.decode("utf-8-sig"), hashlib.sha256(data).hexdigest()
    except UnicodeDecodeError as exc:
        raise RequestFileError(path, f"byte {exc.start}", "", "not UTF-8 text") from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys: which one the sender meant is unknowable
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def _decode(text: str, path: Path, where_prefix: str, line: int = 0) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        where = f"line {line}" if line else where_prefix
        shown = exc.key if _PLAIN_KEY.fullmatch(exc.key) else "(a key that is not a field name)"
        raise RequestFileError(path, where, shown, "appears twice in one object") from None
    except json.JSONDecodeError as exc:
        where = f"line {line or exc.lineno}" + ("" if line else f" column {exc.colno}")
        raise RequestFileError(path, where, "", f"invalid JSON ({exc.msg})") from None
    except ValueError:  # e.g. an integer literal longer than Python's 4300-digit limit
        where = f"line {line}" if line else where_prefix
        raise RequestFileError(path, where, "", "invalid JSON (a number too long)") from None
    except RecursionError:
        raise RequestFileError(path, where_prefix or "", "", "JSON nested too deeply") from None


def parse_file(path: Path, *, subject: str | None = None, now: datetime | None = None,
               index: int = 1) -> list[ParsedRequest]:
    """All requests in one file (the ``index``-th of its import), or a
    :class:`RequestFileError` for the first problem."""
    now = now or datetime.now(UTC)
    text, digest = _read(path)
    requests = _parse_text(path, text, subject, now)
    return [dataclasses.replace(r, file_sha256=digest, file_index=index) for r in requests]


def _parse_text(path: Path, text: str, subject: str | None,
                now: datetime) -> list[ParsedRequest]:
    if not text.strip():
        raise RequestFileError(path, "", "", "is empty")
    requests: list[ParsedRequest] = []
    if path.suffix.lower() == ".jsonl":
        # only \n ends a line: splitlines() would also cut at U+2028, U+0085 and others that
        # JSON allows raw inside strings
        lines = [(n, _decode(line, path, "", n))
                 for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
        if not lines:
            raise RequestFileError(path, "", "", "holds no request")
        if _bare_pairs([obj for _, obj in lines]):
            requests.append(_one_subject(path, [obj for _, obj in lines], subject, now))
        else:
            requests += [parse_request(obj, path, f"line {n}", now) for n, obj in lines]
    else:
        data = _decode(text, path, "")
        if type(data) is list and _bare_pairs(data):
            requests.append(_one_subject(path, data, subject, now))
        elif type(data) is list:
            if not data:
                raise RequestFileError(path, "", "", "is an empty list")
            requests += [parse_request(x, path, f"item {i}", now) for i, x in enumerate(data)]
        else:
            requests.append(parse_request(data, path, "", now))
    _check_duplicates(requests)
    return requests


def _bare_pairs(items: list[Any]) -> bool:
    """Question/answer pairs without a subject: one person's facts, named on import."""
    return bool(items) and all(type(x) is dict and "facts" not in x and "subject" not in x
                               for x in items)


def _one_subject(path: Path, pairs: list[Any], subject: str | None,
                 now: datetime) -> ParsedRequest:
    if not subject or not subject.strip():
        raise RequestFileError(path, "", "subject",
                               "a list of question/answer pairs needs the subject's name "
                               "(--subject NAME; in the TUI, the import dialog's Subject "
                               "name field)")
    return parse_request({"subject": {"name": subject}, "facts": pairs}, path, "", now)


def _check_duplicates(requests: Iterable[ParsedRequest]) -> None:
    seen: dict[str, ParsedRequest] = {}
    for r in requests:
        first = seen.setdefault(r.request_id, r)
        if first is not r and first.content_hash != r.content_hash:
            raise RequestFileError(r.source, r.where, "request_id",
                                   f"duplicate id {r.request_id} with different content "
                                   f"(first seen in {first.source} {first.where})".rstrip())


def _own_deployment(folder: Path, root: Path) -> bool:
    """A subfolder of ``root`` with its own deployment.toml is another deployment's scenario:
    its requests are about another model and are imported only when that folder is named."""
    return folder != root and (folder / DEPLOYMENT_NAME).is_file()


def request_files(paths: Sequence[str | Path]) -> list[Path]:
    """Expand folders to their *.json / *.jsonl files (recursively, sorted), skipping hidden
    files, a deployment's fine-tuning corpus (corpus.json / corpus.jsonl) and subfolders that
    hold their own deployment.toml (another deployment: name that folder to import it)."""
    files: list[Path] = []
    for p in map(Path, paths):
        try:
            st = p.stat()
        except OSError as exc:
            raise RequestFileError(p, "", "", _missing(p, exc)) from None
        if stat.S_ISDIR(st.st_mode):
            found = sorted(
                f for f in _walk(p)
                if f.suffix.lower() in {".json", ".jsonl"}
                and f.name.lower() not in CORPUS_NAMES
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
                and not any(_own_deployment(d, p) for d in f.parents if d.is_relative_to(p))
            )
            if not found:
                raise RequestFileError(p, "", "", "folder holds no *.json or *.jsonl request file")
            files += found
        elif stat.S_ISREG(st.st_mode):
            files.append(p)
        else:
            raise RequestFileError(p, "", "", "not a regular file or folder (a pipe, socket or "
                                              "device)")
    return files


def _missing(p: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "no such file or folder"
    return f"cannot read: {exc.strerror}"


def _walk(folder: Path) -> list[Path]:
    """Every regular file under ``folder``; a subfolder that cannot be read is an error, not
    a silent gap in an all-or-nothing import."""
    def fail(exc: OSError) -> None:
        raise RequestFileError(exc.filename or folder, "", "",
                               f"cannot read this folder: {exc.strerror}")

    out: list[Path] = []
    for root, _dirs, names in os.walk(folder, onerror=fail):
        out += [Path(root, n) for n in names if Path(root, n).is_file()]
    return out


def parse_paths(paths: Sequence[str | Path], *, subject: str | None = None,
                now: datetime | None = None) -> list[ParsedRequest]:
    now = now or datetime.now(UTC)
    parsed: list[ParsedRequest] = []
    for index, f in enumerate(request_files(paths), start=1):
        parsed += parse_file(f, subject=subject, now=now, index=index)
    _check_duplicates(parsed)
    return parsed


def store_parsed(session: Session, parsed: Sequence[ParsedRequest], *, secret: bytes,
                 actor: str) -> ImportReport:
    """Write parsed requests in the caller's transaction; same id + same content is a no-op,
    same id + other content is an error that leaves everything untouched."""
    report = ImportReport()
    unique = list({r.request_id: r for r in reversed(parsed)}.values())[::-1]  # first wins
    stored: dict[str, str] = {}
    ids = [r.request_id for r in unique]
    for i in range(0, len(ids), 500):  # bounded IN lists
        stored.update(session.exec(select(Request.id, Request.content_hash)
                                   .where(Request.id.in_(ids[i:i + 500]))).all())
    new: list[ParsedRequest] = []
    for r in unique:
        if r.request_id not in stored:
            new.append(r)
        elif stored[r.request_id] != r.content_hash:
            raise RequestFileError(r.source, r.where, "request_id",
                                   f"{r.request_id} is already stored with different content")
        else:
            report.unchanged.append(r.request_id)
    if not new:
        return report
    now = workflow.utcnow()
    # bulk inserts: thousands of requests in seconds, so others wait on the lock only briefly
    session.execute(insert(Request), [{
        "id": r.request_id, "subject_name": r.subject_name,
        "subject_reference": r.subject_reference,
        "subject_pseudonym": pseudonym(secret, r.subject_name, r.subject_reference),
        "ground": r.ground, "state": workflow.SUBMITTED, "received_at": r.received_at,
        "extension_months": 0, "content_hash": r.content_hash,
        # the file name stays with the request's private data (purged with it), escaped: a
        # name that is not UTF-8 cannot be stored as it is
        "source": printable(r.source), "created_at": now, "updated_at": now,
    } for r in new])
    session.execute(insert(Fact), [
        {"request_id": r.request_id, "position": pos, "question": q, "answer": a}
        for r in new for pos, (q, a) in enumerate(r.facts)])
    _store_probes(session, [r for r in new if r.probes], now)
    workflow.append_events(session, [{
        "request_id": r.request_id, "actor": actor, "action": "submitted",
        "from_state": None, "to_state": workflow.SUBMITTED,
        # the file by position and content hash, never by name: the event outlives the
        # purge, and a file is often named after the person
        "detail": {"facts": len(r.facts), "file": r.file_index,
                   "file_sha256": r.file_sha256[:16], "ground": r.ground,
                   "generated_id": r.generated_id},
    } for r in new])
    report.created = [r.request_id for r in new]
    return report


def _store_probes(session: Session, requests: Sequence[ParsedRequest], now: datetime) -> None:
    """An operator's probe questions, as held-out items of kind ``operator`` under their fact:
    the audit's ``independent`` family asks them; nothing trains on them, and the purge
    removes them with the request's other items."""
    from engine.types import OPERATOR_PROBE
    from relearn_tui.review import PROBE
    from relearn_tui.store.models import Variant

    if not requests:
        return
    ids = {(f.request_id, f.position): f.id for f in session.exec(
        select(Fact).where(Fact.request_id.in_([r.request_id for r in requests]))).all()}
    session.execute(insert(Variant), [
        {"fact_id": ids[(r.request_id, pos)], "request_id": r.request_id,
         "kind": OPERATOR_PROBE, "question": q, "answer": "", "backend": "operator", "seed": 0,
         "held_out": True, "status": PROBE, "created_at": now}
        for r in requests for pos, qs in enumerate(r.probes) for q in qs])


def import_paths(store, paths: Sequence[str | Path], *, secret: bytes, actor: str,
                 subject: str | None = None) -> ImportReport:
    """Parse everything, then store it all in one transaction (all files or none)."""
    parsed = parse_paths(paths, subject=subject)
    with store.session() as session:
        report = store_parsed(session, parsed, secret=secret, actor=actor)
    report.files = len({p.source for p in parsed})
    return report
