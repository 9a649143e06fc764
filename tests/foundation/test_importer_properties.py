"""Property test: generated malformed and hostile files thrown at the importer.

Whatever the file, the importer either imports it whole or raises one RequestFileError: one
printable line naming the file and never quoting the private value; and what was stored
before is untouched (every table compared row by row)."""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from relearn_tui import workflow
from relearn_tui.importer import RequestFileError, import_paths
from relearn_tui.store import Fact, Request, Store

from .support import PRIVATE, PRIVATE_ANSWER, SECRET, request_obj, snapshot

# Stands for the request id in generated files; swapped for a fresh id of the same length in
# each example so that valid mutations really import instead of colliding with earlier ones.
PLACEHOLDER = "PROP-XXXXXXXX"
# Stored once before the examples run: files that reuse it collide with stored content.
STORED_ID = "PROP-STORED01"
_serial = itertools.count()

TEMPLATE = request_obj(PLACEHOLDER)
PAIRS = [{"question": "What is Isabella Marquez's email?", "answer": PRIVATE_ANSWER},
         {"text": "Where does Isabella live?", "labels": "Isabella lives in Springfield."}]

EDGE_STRINGS = ["", " ", "\t\n", "\x00", "\x07", "\x1b[31mred", "\x7f", "\ud800", "\udfff",
                "a\ud83d", "\u2028", "\u2029", "\x85", "\ufeff", "\u202e", "e\u0301", "𝄞",
                "\U0010ffff", "\uffff", "NaN", "null", "{}", "[]", '"', "\\", "ﬁ", "İ",
                "2026-02-30T00:00:00Z", "0001-01-01T00:00:00+01:00", "2026-11-02",
                "9999-12-31T23:59:59-01:00", "DSR-1\n", "-leading-dash", "x" * 65]

any_char = st.characters(codec=None, categories=None)  # surrogates and controls included
hostile_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=any_char, max_size=30),
    st.sampled_from(EDGE_STRINGS),
    st.integers(3990, 4010).map(lambda n: "y" * n),  # around the 4000-character limit
    st.integers(20_000, 60_000).map(lambda n: "z" * n),
)
hostile_key = st.one_of(
    st.text(alphabet=any_char, max_size=12),
    st.sampled_from(["emial", "bad\nkey", "\ud800", "\x1b[2J", PRIVATE, "k" * 5000, "",
                     "question", "subject", "name", "labels"]),
)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), hostile_text)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(hostile_key, inner, max_size=4),
    max_leaves=8,
)

# where in a request a structural mutation can strike
FIELD_PATHS: list[tuple[Any, ...]] = [
    (), ("request_id",), ("received_at",), ("ground",), ("subject",), ("subject", "name"),
    ("subject", "reference"), ("facts",), ("facts", 0), ("facts", 0, "question"),
    ("facts", 0, "answer"), ("facts", 1), ("facts", 1, "answer"),
]


def _dumps(obj: Any, ascii_only: bool) -> bytes:
    text = json.dumps(obj, ensure_ascii=ascii_only, allow_nan=True)
    # lone surrogates become the (invalid) bytes a careless encoder would write
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def structural(draw: st.DrawFn, base: Any = None) -> Any:
    """The template request with one or more fields deleted, replaced or added."""
    obj = copy.deepcopy(TEMPLATE if base is None else base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(FIELD_PATHS))
        node, ok = obj, True
        for part in path[:-1]:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                ok = False
                break
        if not ok or not path:
            continue
        leaf = path[-1]
        action = draw(st.sampled_from(["delete", "value", "text", "add_key"]))
        try:
            if action == "delete":
                del node[leaf]
            elif action == "value":
                node[leaf] = draw(json_value)
            elif action == "text":
                node[leaf] = draw(hostile_text)
            elif isinstance(node, dict):
                node[draw(hostile_key)] = draw(json_value)
        except (KeyError, IndexError, TypeError):
            continue
    return obj


@st.composite
def byte_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """Random byte-level damage: truncation, deletion, insertion, substitution, splicing."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "delete", "insert", "replace", "duplicate"]))
        pos = draw(st.integers(0, len(buf)))
        if op == "truncate":
            del buf[pos:]
        elif op == "delete":
            del buf[pos:pos + draw(st.integers(1, 20))]
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=8)
                                | st.sampled_from([b'"', b",", b"}", b"]", b"\\", b"\n",
                                                   b"\xff", b"\xed\xa0\x80", b"\x00"]))
        elif op == "replace" and pos < len(buf):
            buf[pos] = draw(st.integers(0, 255))
        elif op == "duplicate":
            end = min(len(buf), pos + draw(st.integers(1, 40)))
            buf[pos:pos] = buf[pos:end]
    return bytes(buf)


# JSON tokens json.dumps cannot write, spliced in for a value of the template
RAW_TOKENS = [b"9" * 5000, b"-" + b"1" * 4400, b"1e999999", b"NaN", b"-Infinity", b"[" * 3000,
              b'"\\ud800"', b'"\\u0000"', b'"a\\u0085b\\u2028c"', b"true", b"{}", b'""',
              b'"' + b"w" * 11_000_000 + b'"']
SPLICE_TARGETS = [b'"art17-1a"', b'"2026-11-02T09:14:00Z"', b'"crm-88213"',
                  json.dumps(PRIVATE_ANSWER).encode(), b'"' + PLACEHOLDER.encode() + b'"']


@st.composite
def hostile_file(draw: st.DrawFn) -> tuple[str, bytes, str | None]:
    """(suffix, content, --subject) of a generated file."""
    kind = draw(st.sampled_from(["structural", "bytes", "binary", "any_json", "duplicates",
                                 "jsonl", "pairs", "collision", "raw_token", "unchanged"]))
    ascii_only = draw(st.booleans())
    subject = draw(st.none() | st.just("Isabella Marquez") | hostile_text)
    if kind == "structural":
        return ".json", _dumps(draw(structural()), ascii_only), subject
    if kind == "bytes":
        valid = _dumps(TEMPLATE, ascii_only)
        return draw(st.sampled_from([".json", ".jsonl"])), draw(byte_mutation(valid)), subject
    if kind == "binary":
        return draw(st.sampled_from([".json", ".jsonl"])), draw(st.binary(max_size=300)), subject
    if kind == "any_json":
        return draw(st.sampled_from([".json", ".jsonl"])), _dumps(draw(json_value),
                                                                  ascii_only), subject
    if kind == "duplicates":
        # the same id twice: the second copy identical or with other content
        second = draw(st.just(copy.deepcopy(TEMPLATE)) | structural())
        second["request_id"] = PLACEHOLDER if isinstance(second, dict) else None
        return ".json", _dumps([TEMPLATE, second], ascii_only), subject
    if kind == "jsonl":
        lines = [_dumps(TEMPLATE, ascii_only), _dumps(draw(structural()), ascii_only)]
        if draw(st.booleans()):
            lines.append(draw(byte_mutation(_dumps(TEMPLATE, ascii_only))))
        return ".jsonl", b"\n".join(draw(st.permutations(lines))), subject
    if kind == "pairs":
        pairs = copy.deepcopy(PAIRS)
        if draw(st.booleans()):
            pairs[draw(st.integers(0, 1))][draw(st.sampled_from(
                ["question", "answer", "text", "labels", "extra"]))] = draw(json_value)
        return ".json", _dumps(pairs, ascii_only), subject
    if kind == "raw_token":
        target = draw(st.sampled_from(SPLICE_TARGETS))
        token = draw(st.sampled_from(RAW_TOKENS))
        suffix = draw(st.sampled_from([".json", ".jsonl"]))
        return suffix, _dumps(TEMPLATE, True).replace(target, token, 1), subject
    if kind == "collision":
        # the id of a stored request, with the same or (mostly) other content
        obj = draw(st.just(copy.deepcopy(TEMPLATE)) | structural())
        if isinstance(obj, dict):
            obj["request_id"] = STORED_ID
        if draw(st.booleans()):
            obj = dict(copy.deepcopy(TEMPLATE), request_id=STORED_ID)
            obj["facts"][1]["answer"] = draw(st.text("abc xyz.", min_size=1, max_size=20))
        return ".json", _dumps(obj, ascii_only), subject
    return ".json", _dumps(TEMPLATE, ascii_only), subject


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def prop_store(workdir: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{workdir / 'prop.db'}")
    seed = workdir / "stored.json"
    seed.write_text(json.dumps(dict(TEMPLATE, request_id=STORED_ID)))
    assert import_paths(s, [seed], secret=SECRET, actor="fuzz").created == [STORED_ID]
    yield s
    with s.session() as session:
        assert workflow.verify_chain(session).ok
    s.close()


# the documented id alphabet, written out here rather than taken from the importer
ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
NOT_ALLOWED_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _check_stored(store: Store, ids: list[str]) -> None:
    """What an accepted file put in the database is clean: a well-formed id, the state
    submitted, at least one fact, texts without control characters or lone surrogates."""
    with store.session() as s:
        for rid in ids:
            assert ID_SHAPE.fullmatch(rid), repr(rid)
            req = s.get(Request, rid)
            assert req is not None and req.state == "submitted"
            facts = s.exec(select(Fact).where(Fact.request_id == rid)).all()
            assert facts
            texts = [req.subject_name or "", req.subject_reference or "", req.ground or ""]
            texts += [t or "" for f in facts for t in (f.question, f.answer)]
            assert not any(NOT_ALLOWED_IN_TEXT.search(t) for t in texts)
            assert all(f.question and f.question.strip() and f.answer and f.answer.strip()
                       for f in facts)


def _check_error(exc: RequestFileError, path: Path) -> None:
    message = str(exc)
    assert "\n" not in message and "\r" not in message, message
    message.encode("utf-8")  # printable: no lone surrogates left in it
    assert path.name in message, message
    assert PRIVATE not in message and PRIVATE_ANSWER not in message, message
    assert len(message) < 600, message[:600]


@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example, HealthCheck.filter_too_much])
@given(case=hostile_file())
def test_hostile_files_never_crash_nor_change_what_is_stored(
    prop_store: Store, workdir: Path, case: tuple[str, bytes, str | None]
) -> None:
    suffix, content, subject = case
    n = next(_serial)
    fresh = f"P{n:012d}"
    assert len(fresh) == len(PLACEHOLDER)
    content = content.replace(PLACEHOLDER.encode(), fresh.encode())
    path = workdir / f"case-{n}{suffix}"
    path.write_bytes(content)
    before = snapshot(prop_store)
    try:
        report = import_paths(prop_store, [path], secret=SECRET, actor="fuzz", subject=subject)
    except RequestFileError as exc:
        event("refused: " + re.sub(r"[\d.]+", "N", exc.problem.split(" (")[0])[:40])
        _check_error(exc, path)
        assert snapshot(prop_store) == before
    else:
        event("imported" if report.created else "already stored")
        after = snapshot(prop_store)
        for table, rows in before.items():
            if table != "chain_head":  # its one row moves on with every new event
                assert set(rows) <= set(after[table]), f"{table}: a stored row changed"
        if not report.created:
            assert after == before
        new_events = len(after["event"]) - len(before["event"])
        assert new_events == len(report.created)
        _check_stored(prop_store, report.created)
        # importing the same file again is a no-op
        again = import_paths(prop_store, [path], secret=SECRET, actor="fuzz", subject=subject)
        assert again.created == []
        assert sorted(again.unchanged) == sorted(report.created + report.unchanged)
        assert snapshot(prop_store) == after
    finally:
        path.unlink()


# Text a person may legitimately send: any printable unicode, plus the characters that are
# line breaks to str.splitlines() but plain characters inside a JSON string.
legit_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"),
                           include_characters="\x85\u2028\u2029\t"),
    min_size=1, max_size=40,
).filter(lambda t: t.strip())
# A name or reference is printed in tables, logs and reports: visible characters only (no tab,
# line or paragraph separator, bidi or zero-width character), spaces inside allowed.
legit_name = st.text(
    alphabet=st.characters(codec="utf-8",
                           exclude_categories=("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")),
    min_size=1, max_size=40,
).filter(lambda t: t.strip())


@st.composite
def valid_request(draw: st.DrawFn) -> dict[str, Any]:
    facts = draw(st.lists(st.tuples(legit_text, legit_text), min_size=1, max_size=3))
    obj: dict[str, Any] = {"subject": {"name": draw(legit_name)},
                           "facts": [{"question": q, "answer": a} for q, a in facts]}
    if draw(st.booleans()):
        obj["request_id"] = PLACEHOLDER
    if draw(st.booleans()):
        obj["subject"]["reference"] = draw(legit_name)
    return obj


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests=st.lists(valid_request(), min_size=1, max_size=3),
       suffix=st.sampled_from([".json", ".jsonl"]), ascii_only=st.booleans())
def test_valid_files_with_any_unicode_import_exactly(
    prop_store: Store, workdir: Path, requests: list[dict[str, Any]], suffix: str,
    ascii_only: bool,
) -> None:
    """The other side: a valid file is never refused, and what is stored is what was sent
    (stripped of surrounding white space)."""
    n = next(_serial)
    for i, obj in enumerate(requests):  # distinct ids within the file
        if "request_id" in obj:
            obj["request_id"] = f"V{n:09d}-{i}"
    if suffix == ".jsonl":
        content = "\n".join(json.dumps(o, ensure_ascii=ascii_only) for o in requests)
    else:
        content = json.dumps(requests, ensure_ascii=ascii_only)
    path = workdir / f"valid-{n}{suffix}"
    path.write_text(content, encoding="utf-8")
    try:
        report = import_paths(prop_store, [path], secret=SECRET, actor="fuzz")
    finally:
        path.unlink()
    ids = report.created + report.unchanged
    assert len(ids) == len({json.dumps(o, sort_keys=True) for o in requests})
    with prop_store.session() as s:
        for obj in requests:
            rid = obj.get("request_id")
            if rid is None:
                continue
            stored = s.exec(select(Fact).where(Fact.request_id == rid)
                            .order_by(Fact.position)).all()
            assert [(f.question, f.answer) for f in stored] == [
                (f["question"].strip(), f["answer"].strip()) for f in obj["facts"]]
            req = s.get(Request, rid)
            assert req is not None and req.subject_name == obj["subject"]["name"].strip()
