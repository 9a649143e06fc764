"""Reading erasure requests from files (DESIGN section 4).

Parsing is separate from storing: :func:`parse_paths` validates everything and raises one
:class:`RequestFileError` naming file, line or index, and field; only then does
:func:`import_paths` write, in one transaction, so a bad file changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from relearn_tui import workflow
from relearn_tui.pseudonym import pseudonym
from relearn_tui.store.models import Fact, Request

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FACTS = 500
MAX_TEXT = 4000
MAX_NAME = 200
REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
CORPUS_NAMES = frozenset({"corpus.json", "corpus.jsonl"})
DEPLOYMENT_NAME = "deployment.toml"
_REQUEST_KEYS = frozenset({"request_id", "received_at", "subject", "ground", "facts"})
_SUBJECT_KEYS = frozenset({"name", "reference"})
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class RequestFileError(Exception):
    """One bad input, located: ``file: where: field: problem``. Never quotes a value."""

    def __init__(self, path: str | Path, where: str, field_name: str, problem: str) -> None:
        self.path, self.where, self.field, self.problem = str(path), where, field_name, problem
        parts = [self.path] + [p for p in (where, field_name) if p] + [problem]
        super().__init__(_printable(": ".join(parts)))


def _printable(text: str) -> str:
    """Escape what would break a one-line message or the terminal: newlines and other
    control characters, line separators, lone surrogates (a file name can hold them)."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


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


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    files: int = 0


def _check_text(value: Any, path: Path, where: str, name: str, limit: int,
                required: bool = True) -> str | None:
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
                  received: datetime | None, facts: Sequence[tuple[str, str]]) -> str:
    body = {"name": name, "reference": reference, "ground": ground,
            "received_at": received.isoformat() if received else None, "facts": list(facts)}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _facts(raw: Any, path: Path, where: str, prefix: str) -> tuple[tuple[str, str], ...]:
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
    for i, item in enumerate(raw):
        name = f"{prefix}[{i}]"
        if type(item) is not dict:
            raise RequestFileError(path, where, name, f"must be an object, not {_json_type(item)}")
        if "text" in item or "labels" in item:  # KnowUnDo layout
            keys, q_key, a_key = {"text", "labels"}, "text", "labels"
        else:
            keys, q_key, a_key = {"question", "answer"}, "question", "answer"
        extra = sorted(set(item) - keys)
        if extra:
            raise _unknown_key(path, where, f"{name}.", extra[0])
        q = _check_text(item.get(q_key), path, where, f"{name}.{q_key}", MAX_TEXT)
        a = _check_text(item.get(a_key), path, where, f"{name}.{a_key}", MAX_TEXT)
        facts.append((q or "", a or ""))
    return tuple(facts)


def parse_request(obj: Any, path: Path, where: str, now: datetime) -> ParsedRequest:
    """Validate one request object (DESIGN section 4)."""
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
    name = _check_text(subject.get("name"), path, where, "subject.name", MAX_NAME) or ""
    reference = _check_text(subject.get("reference"), path, where, "subject.reference",
                            MAX_NAME, required=False)
    ground = _check_text(obj.get("ground"), path, where, "ground", 64, required=False)
    received = _parse_time(obj.get("received_at"), path, where, now)
    facts = _facts(obj.get("facts"), path, where, "facts")
    digest = _content_hash(name, reference, ground, received, facts)
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
    return ParsedRequest(rid, received or now, name, reference, ground, facts, digest,
                         path.name, where, generated)


def _read(path: Path) -> str:
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
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestFileError(path, f"byte {exc.start}", "", "not UTF-8 text") from None


def _decode(text: str, path: Path, where_prefix: str, line: int = 0) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {line or exc.lineno}" + ("" if line else f" column {exc.colno}")
        raise RequestFileError(path, where, "", f"invalid JSON ({exc.msg})") from None
    except ValueError:  # e.g. an integer literal longer than Python's 4300-digit limit
        where = f"line {line}" if line else where_prefix
        raise RequestFileError(path, where, "", "invalid JSON (a number too long)") from None
    except RecursionError:
        raise RequestFileError(path, where_prefix or "", "", "JSON nested too deeply") from None


def parse_file(path: Path, *, subject: str | None = None,
               now: datetime | None = None) -> list[ParsedRequest]:
    """All requests in one file, or a :class:`RequestFileError` for the first problem."""
    now = now or datetime.now(UTC)
    text = _read(path)
    if not text.strip():
        raise RequestFileError(path, "", "", "is empty")
    requests: list[ParsedRequest] = []
    if path.suffix.lower() == ".jsonl":
        # only \n ends a line: splitlines() would also cut at U+2028, U+0085 and others that
        # JSON allows raw inside strings
        for n, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                requests.append(parse_request(_decode(line, path, "", n), path, f"line {n}", now))
        if not requests:
            raise RequestFileError(path, "", "", "holds no request")
    else:
        data = _decode(text, path, "")
        if type(data) is list and data and all(
            type(x) is dict and "facts" not in x and "subject" not in x for x in data
        ):
            if not subject or not subject.strip():
                raise RequestFileError(path, "", "subject",
                                       "a list of question/answer pairs needs --subject NAME")
            requests.append(parse_request({"subject": {"name": subject}, "facts": data}, path,
                                          "", now))
        elif type(data) is list:
            if not data:
                raise RequestFileError(path, "", "", "is an empty list")
            requests += [parse_request(x, path, f"item {i}", now) for i, x in enumerate(data)]
        else:
            requests.append(parse_request(data, path, "", now))
    _check_duplicates(requests)
    return requests


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
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in {".json", ".jsonl"}
                and f.name.lower() not in CORPUS_NAMES
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
                and not any(_own_deployment(d, p) for d in f.parents if d.is_relative_to(p))
            )
            if not found:
                raise RequestFileError(p, "", "", "folder holds no *.json or *.jsonl request file")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise RequestFileError(p, "", "", "no such file or folder")
    return files


def parse_paths(paths: Sequence[str | Path], *, subject: str | None = None,
                now: datetime | None = None) -> list[ParsedRequest]:
    now = now or datetime.now(UTC)
    parsed: list[ParsedRequest] = []
    for f in request_files(paths):
        parsed += parse_file(f, subject=subject, now=now)
    _check_duplicates(parsed)
    return parsed


def store_parsed(session: Session, parsed: Sequence[ParsedRequest], *, secret: bytes,
                 actor: str) -> ImportReport:
    """Write parsed requests in the caller's transaction; same id + same content is a no-op,
    same id + other content is an error that leaves everything untouched."""
    report = ImportReport()
    done: set[str] = set()
    for r in parsed:
        if r.request_id in done:
            continue
        done.add(r.request_id)
        existing = session.get(Request, r.request_id)
        if existing is not None:
            if existing.content_hash != r.content_hash:
                raise RequestFileError(r.source, r.where, "request_id",
                                       f"{r.request_id} is already stored with different content")
            report.unchanged.append(r.request_id)
            continue
        now = workflow.utcnow()
        session.add(Request(
            id=r.request_id, subject_name=r.subject_name, subject_reference=r.subject_reference,
            subject_pseudonym=pseudonym(secret, r.subject_name, r.subject_reference),
            ground=r.ground, state=workflow.SUBMITTED, received_at=r.received_at,
            content_hash=r.content_hash, source=r.source, created_at=now, updated_at=now,
        ))
        session.flush()
        for pos, (q, a) in enumerate(r.facts):
            session.add(Fact(request_id=r.request_id, position=pos, question=q, answer=a))
        workflow.append_event(
            session, request_id=r.request_id, actor=actor, action="submitted",
            from_state=None, to_state=workflow.SUBMITTED,
            detail={"facts": len(r.facts), "source": r.source, "ground": r.ground,
                    "generated_id": r.generated_id},
        )
        report.created.append(r.request_id)
    return report


def import_paths(store, paths: Sequence[str | Path], *, secret: bytes, actor: str,
                 subject: str | None = None) -> ImportReport:
    """Parse everything, then store it all in one transaction (all files or none)."""
    parsed = parse_paths(paths, subject=subject)
    with store.session() as session:
        report = store_parsed(session, parsed, secret=secret, actor=actor)
    report.files = len({p.source for p in parsed})
    return report
