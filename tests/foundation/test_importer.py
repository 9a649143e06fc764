"""The importer (docs/design.md §4.1): JSON, JSONL, folders, the KnowUnDo pair layout; whole file
or nothing; idempotent re-import; one located, one-line error per bad input that never quotes
the private values."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from relearn_tui import workflow
from relearn_tui.importer import (
    MAX_FACTS,
    MAX_TEXT,
    RequestFileError,
    import_paths,
    parse_file,
    parse_paths,
)
from relearn_tui.pseudonym import pseudonym
from relearn_tui.store import Fact, Request, Store

from .support import (
    PRIVATE,
    PRIVATE_ANSWER,
    SAMPLE,
    SECRET,
    event_count,
    request_obj,
    snapshot,
    write_json,
    write_jsonl,
)


def _import(store: Store, *paths: Path, subject: str | None = None):
    return import_paths(store, list(paths), secret=SECRET, actor="importer", subject=subject)


def _facts(store: Store, rid: str) -> list[tuple[str | None, str | None]]:
    with store.session() as s:
        rows = s.exec(select(Fact).where(Fact.request_id == rid).order_by(Fact.position)).all()
        return [(f.question, f.answer) for f in rows]


# ---------------------------------------------------------------- accepted inputs


def test_json_request_is_stored_as_submitted(store: Store, tmp_path: Path) -> None:
    path = write_json(tmp_path / "r.json", request_obj("DSR-1"))
    report = _import(store, path)
    assert (report.created, report.unchanged, report.files) == (["DSR-1"], [], 1)
    with store.session() as s:
        req = s.get(Request, "DSR-1")
        assert req is not None
        assert req.state == "submitted"
        assert req.subject_name == "Isabella Marquez"
        assert req.subject_reference == "crm-88213"
        assert req.subject_pseudonym == pseudonym(SECRET, "Isabella Marquez", "crm-88213")
        assert req.ground == "art17-1a"
        assert req.received_at == datetime(2026, 11, 2, 9, 14, tzinfo=UTC)
        assert req.source == "r.json"
        assert workflow.verify_chain(s).ok
    assert _facts(store, "DSR-1")[0] == ("What is Isabella Marquez's email address?",
                                         PRIVATE_ANSWER)
    assert event_count(store, "DSR-1") == 1


def test_json_list_of_requests(store: Store, tmp_path: Path) -> None:
    path = write_json(tmp_path / "many.json", [request_obj("A-1"), request_obj("A-2")])
    assert _import(store, path).created == ["A-1", "A-2"]


def test_jsonl_one_request_per_line_with_blank_lines_and_crlf(store: Store,
                                                              tmp_path: Path) -> None:
    lines = [json.dumps(request_obj(f"L-{i}")) for i in range(3)]
    path = tmp_path / "batch.jsonl"
    path.write_bytes(("\r\n".join([lines[0], "", lines[1], "   ", lines[2]]) + "\r\n").encode())
    assert _import(store, path).created == ["L-0", "L-1", "L-2"]


def test_jsonl_with_line_separator_characters_inside_strings(store: Store,
                                                              tmp_path: Path) -> None:
    """U+2028, U+0085 and friends are legal inside JSON strings and are not line breaks of
    a .jsonl file (json.dumps(ensure_ascii=False) writes them raw). In a fact's text they
    are kept; in a name they are refused (tests/foundation/test_kept_text.py)."""
    answer = "Ada\u2028Lovelace\x85Byron\u2029King"
    path = write_jsonl(tmp_path / "seps.jsonl", [request_obj("SEP-1", answer=answer),
                                                 request_obj("SEP-2")])
    assert _import(store, path).created == ["SEP-1", "SEP-2"]


def test_utf8_bom_is_accepted(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(request_obj("BOM-1")).encode())
    assert _import(store, path).created == ["BOM-1"]


def test_folder_skips_corpus_hidden_and_other_files(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    write_json(folder / "a.json", request_obj("F-1"))
    write_jsonl(folder / "sub" / "b.jsonl", [request_obj("F-2")])
    write_jsonl(folder / "corpus.jsonl", [{"question": "q", "answer": "a"}])
    write_json(folder / "corpus.json", [{"question": "q", "answer": "a"}])
    (folder / ".hidden.json").write_text("{not json")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "x.json").write_text("{not json")
    (folder / "notes.txt").write_text("{not json")
    report = _import(store, folder)
    assert sorted(report.created) == ["F-1", "F-2"]
    assert report.files == 2


def test_sample_requests_folder(store: Store) -> None:
    # the main command's import: the second scenario (sample_requests/authors/, with its own
    # deployment.toml) is not picked up
    report = _import(store, SAMPLE)
    assert report.created == ["DSR-2026-0041", "DSR-2026-0042", "DSR-2026-0043"]
    assert all(len(_facts(store, rid)) == 6 for rid in report.created)


def test_the_second_sample_scenario_imports_when_its_folder_is_named(store: Store) -> None:
    report = _import(store, SAMPLE / "authors")
    assert report.created == ["DSR-2026-0101", "DSR-2026-0102"]
    assert all(len(_facts(store, rid)) >= 5 for rid in report.created)


def test_a_subfolder_with_its_own_deployment_is_another_scenario(store: Store,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    write_json(folder / "a.json", request_obj("D-1"))
    write_json(folder / "other" / "b.json", request_obj("D-2"))
    (folder / "other" / "deployment.toml").write_text('name = "other"\n')
    write_json(folder / "other" / "deeper" / "c.json", request_obj("D-3"))
    assert _import(store, folder).created == ["D-1"]
    # the folder's own deployment.toml does not hide the folder itself
    (folder / "deployment.toml").write_text('name = "inbox"\n')
    assert sorted(_import(store, folder / "other").created) == ["D-2", "D-3"]


@pytest.mark.parametrize("pairs", [
    [{"question": "What is Ada's email?", "answer": "ada@example.org"},
     {"question": "Where does Ada live?", "answer": "In Paris."}],
    [{"text": "What is Ada's email?", "labels": "ada@example.org"},
     {"text": "Where does Ada live?", "labels": "In Paris."}],
])
def test_knowundo_pairs_with_subject(store: Store, tmp_path: Path, pairs: list) -> None:
    path = write_json(tmp_path / "knowundo.json", pairs)
    report = _import(store, path, subject="Ada Example")
    assert len(report.created) == 1
    rid = report.created[0]
    assert rid.startswith("DSR-")
    assert _facts(store, rid) == [("What is Ada's email?", "ada@example.org"),
                                  ("Where does Ada live?", "In Paris.")]
    with store.session() as s:
        req = s.get(Request, rid)
        assert req is not None and req.subject_name == "Ada Example"
    # the generated id depends on the content only: importing again changes nothing
    assert _import(store, path, subject="Ada Example").unchanged == [rid]


def test_knowundo_pairs_need_a_subject(store: Store, tmp_path: Path) -> None:
    path = write_json(tmp_path / "pairs.json", [{"question": "q?", "answer": PRIVATE}])
    with pytest.raises(RequestFileError, match="--subject") as info:
        _import(store, path)
    assert "pairs.json" in str(info.value) and PRIVATE not in str(info.value)
    assert snapshot(store)["request"] == []


def test_optional_fields_can_be_left_out(store: Store, tmp_path: Path) -> None:
    before = datetime.now(UTC)
    obj = {"subject": {"name": "Ada Example"}, "facts": [{"question": "q?", "answer": "a."}]}
    report = _import(store, write_json(tmp_path / "min.json", obj))
    rid = report.created[0]
    with store.session() as s:
        req = s.get(Request, rid)
        assert req is not None
        assert req.ground is None and req.subject_reference is None
        assert req.received_at >= before.replace(microsecond=0)


# ---------------------------------------------------------------- idempotency


def test_operator_probes_are_stored_as_held_out_items_never_trained(store: Store,
                                                                  tmp_path: Path) -> None:
    from relearn_tui.store.models import Variant

    obj = request_obj("DSR-P")
    obj["facts"][0]["probes"] = ["Remind me how Isabella can be e-mailed?",
                                 "Remind me how Isabella can be e-mailed?", "Her inbox?"]
    plain = _import(store, write_json(tmp_path / "plain.json", request_obj("DSR-Q")))
    assert plain.created == ["DSR-Q"]
    assert _import(store, write_json(tmp_path / "p.json", obj)).created == ["DSR-P"]
    with store.session() as s:
        rows = s.exec(select(Variant).where(Variant.request_id == "DSR-P")).all()
        fact = s.exec(select(Fact).where(Fact.request_id == "DSR-P", Fact.position == 0)).one()
        assert [(v.kind, v.status, v.held_out, v.fact_id, v.question) for v in rows] == [
            ("operator", "probe", True, fact.id, "Remind me how Isabella can be e-mailed?"),
            ("operator", "probe", True, fact.id, "Her inbox?")]
        assert not s.exec(select(Variant).where(Variant.request_id == "DSR-Q")).all()
    # the probes are part of the request's content: other probes, same id, are refused
    obj["facts"][0]["probes"] = ["Another question?"]
    with pytest.raises(RequestFileError, match="already stored with different content"):
        _import(store, write_json(tmp_path / "p2.json", obj))


def test_reimport_same_content_is_unchanged(store: Store, tmp_path: Path) -> None:
    path = write_json(tmp_path / "r.json", request_obj("SAME-1"))
    _import(store, path)
    before = snapshot(store)
    # reformatted file, same content: still the same request
    path.write_text(json.dumps(request_obj("SAME-1"), indent=8))
    report = _import(store, path)
    assert (report.created, report.unchanged) == ([], ["SAME-1"])
    assert snapshot(store) == before


def test_reimport_without_id_or_date_is_unchanged(store: Store, tmp_path: Path) -> None:
    obj = request_obj(None)
    del obj["received_at"]
    path = write_json(tmp_path / "noid.json", obj)
    first = _import(store, path).created
    before = snapshot(store)
    assert _import(store, path).unchanged == first
    assert snapshot(store) == before


def test_reimport_same_id_other_content_is_refused(store: Store, tmp_path: Path) -> None:
    _import(store, write_json(tmp_path / "r.json", request_obj("DUP-1")))
    before = snapshot(store)
    changed = write_json(tmp_path / "r2.json",
                         [request_obj("NEW-1"), request_obj("DUP-1", answer="something else")])
    with pytest.raises(RequestFileError) as info:
        _import(store, changed)
    message = str(info.value)
    assert "r2.json" in message and "DUP-1" in message and "different content" in message
    assert "item 1" in message
    assert snapshot(store) == before  # NEW-1 was not stored either


def test_same_request_twice_in_one_batch_is_stored_once(store: Store, tmp_path: Path) -> None:
    a = write_json(tmp_path / "a.json", request_obj("TWICE-1"))
    b = write_jsonl(tmp_path / "b.jsonl", [request_obj("TWICE-1")])
    report = _import(store, a, b)
    assert report.created == ["TWICE-1"]
    assert event_count(store) == 1


# ---------------------------------------------------------------- whole file or nothing


def test_bad_line_in_jsonl_stores_nothing(store: Store, tmp_path: Path) -> None:
    bad = request_obj("J-3")
    bad["facts"][1]["answer"] = 7
    path = write_jsonl(tmp_path / "b.jsonl", [request_obj("J-1"), request_obj("J-2"), bad])
    before = snapshot(store)
    with pytest.raises(RequestFileError) as info:
        _import(store, path)
    assert str(info.value) == (f"{path}: line 3: facts[1].answer: must be a string, "
                               "not a number")
    assert snapshot(store) == before


def test_bad_file_in_folder_stores_nothing(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    write_json(folder / "a.json", request_obj("OK-1"))
    write_json(folder / "b.json", request_obj("OK-2", facts=[]))
    before = snapshot(store)
    with pytest.raises(RequestFileError, match=r"b\.json"):
        _import(store, folder)
    assert snapshot(store) == before


# ---------------------------------------------------------------- one located error per bad input


def _mutated(**change) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        obj = request_obj("BAD-1")
        for key, value in change.items():
            target, _, leaf = key.rpartition("__")
            node = obj
            for part in filter(None, target.split("__")):
                node = node[int(part)] if part.isdigit() else node[part]
            if value is DROP:
                del node[int(leaf) if leaf.isdigit() else leaf]
            else:
                node[int(leaf) if leaf.isdigit() else leaf] = value
        return write_json(tmp / "bad.json", obj)
    return make


def _raw(content: bytes, name: str = "bad.json") -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(content)
        return path
    return make


def _sized(size: int) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / "huge.json"
        with path.open("wb") as f:
            f.write(json.dumps(request_obj("BIG-1")).encode())
            f.truncate(size)
        return path
    return make


DROP = object()
VALID = json.dumps(request_obj("BAD-1"), ensure_ascii=False)

# (case id, how to make the file, what the message must contain)
BAD_INPUTS: list[tuple[str, Callable[[Path], Path], list[str]]] = [
    ("truncated json", _raw(VALID[: len(VALID) // 2].encode()),
     ["bad.json", "line 1 column", "invalid JSON"]),
    ("not json at all", _raw(b"subject: Isabella\n" + PRIVATE.encode()), ["invalid JSON"]),
    ("jsonl bad line 2", _raw((VALID + "\n{\"subject\": \n").encode(), "b.jsonl"),
     ["b.jsonl", "line 2", "invalid JSON"]),
    ("missing subject", _mutated(subject=DROP), ["subject", "missing"]),
    ("missing facts", _mutated(facts=DROP), ["facts", "missing"]),
    ("missing answer", _mutated(facts__1__answer=DROP), ["facts[1].answer", "missing"]),
    ("missing name", _mutated(subject__name=DROP), ["subject.name", "missing"]),
    ("answer is a number", _mutated(facts__0__answer=12), ["facts[0].answer", "a number"]),
    ("answer is a list", _mutated(facts__0__answer=[PRIVATE]), ["facts[0].answer", "a list"]),
    ("subject is a string", _mutated(subject=PRIVATE), ["subject", "must be an object"]),
    ("facts is an object", _mutated(facts={"q": PRIVATE}), ["facts", "must be a list"]),
    ("fact is a string", _mutated(facts__0=PRIVATE), ["facts[0]", "must be an object"]),
    ("request_id is a number", _mutated(request_id=7), ["request_id", "must be a string"]),
    ("request_id has a space", _mutated(request_id="DSR 1"), ["request_id", "letters"]),
    ("request_id ends in newline", _mutated(request_id="DSR-1\n"), ["request_id", "letters"]),
    ("empty facts", _mutated(facts=[]), ["facts", "empty"]),
    ("empty answer", _mutated(facts__0__answer="   "), ["facts[0].answer", "empty"]),
    ("too many facts", _mutated(facts=[{"question": "q", "answer": PRIVATE}] * (MAX_FACTS + 1)),
     ["facts", "limit"]),
    ("huge answer", _mutated(facts__0__answer=PRIVATE * (MAX_TEXT // len(PRIVATE) + 1)),
     ["facts[0].answer", "limit"]),
    ("50 MB file", _sized(50 * 2**20), ["huge.json", "50.0 MiB", "limit"]),
    ("binary with NUL", _raw(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + PRIVATE.encode()),
     ["binary"]),
    ("not utf-8", _raw(b'{"subject": {"name": "Isabel\xe9"}}'), ["byte 28", "not UTF-8"]),
    ("lone surrogate", _raw(VALID.replace(PRIVATE, "\\ud800" + PRIVATE).encode()),
     ["facts[0].answer", "surrogate"]),
    ("control character", _raw(VALID.replace("Isabella Marquez\"", "Isabella\\u0007\"", 1)
                               .encode()), ["subject.name", "control"]),
    ("unknown top-level field", _mutated(emial=PRIVATE), ["emial", "unknown field"]),
    ("unknown subject field", _mutated(subject__email=PRIVATE),
     ["subject.email", "unknown field"]),
    ("unknown fact field", _mutated(facts__1__note=PRIVATE), ["facts[1].note", "unknown"]),
    ("field name holding the private value", _mutated(**{PRIVATE: 1}), ["unknown field"]),
    ("field name with a newline", _mutated(**{"bad\nkey": 1}), ["unknown field"]),
    ("field name with a lone surrogate",
     _raw(VALID.replace('"ground"', '"\\udc00"', 1).encode()), ["unknown field"]),
    ("huge field name", _mutated(**{"k" * 100_000: 1}), ["unknown field"]),
    ("received_at not a date", _mutated(received_at="yesterday"), ["received_at", "ISO 8601"]),
    ("received_at a number", _mutated(received_at=20261102), ["received_at", "a number"]),
    ("received_at in the future", _mutated(received_at="2999-01-01T00:00:00Z"),
     ["received_at", "future"]),
    ("received_at year 1", _mutated(received_at="0001-01-01T00:00:00+01:00"),
     ["received_at"]),
    ("received_at year 9999", _mutated(received_at="9999-12-31T23:59:59-01:00"),
     ["received_at"]),
    ("integer with 5000 digits", _raw(VALID.replace('"ground": "art17-1a"',
                                                    '"ground": ' + "9" * 5000).encode()),
     ["bad.json"]),
    ("deeply nested", _raw(b"[" * 100_000 + b"]" * 100_000), ["nested"]),
    ("top level is a string", _raw(json.dumps(PRIVATE).encode()), ["must be an object"]),
    ("top level is a list of numbers", _raw(b"[1, 2]"), ["item 0", "must be an object"]),
    ("empty file", _raw(b""), ["is empty"]),
    ("whitespace only", _raw(b" \n\t\n"), ["is empty"]),
    ("empty list", _raw(b"[]"), ["empty list"]),
    ("jsonl without requests", _raw(b"\n\n", "e.jsonl"), ["e.jsonl", "is empty"]),
    ("jsonl line is a list", _raw(b"[1]\n", "l.jsonl"), ["line 1", "must be an object"]),
    ("duplicate ids in one file",
     lambda t: write_json(t / "dup.json", [request_obj("D-1"),
                                          request_obj("D-1", answer="other")]),
     ["dup.json", "item 1", "request_id", "duplicate id D-1"]),
    ("duplicate ids in jsonl",
     lambda t: write_jsonl(t / "dup.jsonl", [request_obj("D-2"), request_obj("D-3"),
                                            request_obj("D-2", name="Someone Else")]),
     ["dup.jsonl", "line 3", "duplicate id D-2", "line 1"]),
    ("probes not a list", _mutated(facts__0__probes="What is it?"),
     ["facts[0].probes", "must be a list of questions, not a string"]),
    ("probe not a string", _mutated(facts__1__probes=["Where?", 7]),
     ["facts[1].probes[1]", "must be a string, not a number"]),
    ("probe empty", _mutated(facts__0__probes=["  "]), ["facts[0].probes[0]", "is empty"]),
    ("too many probes", _mutated(facts__0__probes=[f"Q{i}?" for i in range(21)]),
     ["facts[0].probes", "has 21 questions (limit 20)"]),
    ("file name with a newline",
     lambda t: write_json(t / "odd\nname.json", request_obj("X-1", facts=[])), ["facts"]),
]


@pytest.mark.parametrize(("case", "make", "expected"), BAD_INPUTS,
                         ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gets_one_located_line(store: Store, tmp_path: Path, case: str,
                                         make: Callable[[Path], Path],
                                         expected: list[str]) -> None:
    path = make(tmp_path)
    before = snapshot(store)
    with pytest.raises(RequestFileError) as info:
        _import(store, path)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert len(message) < 400, message[:400]
    message.encode("utf-8")  # printable: no lone surrogates
    assert path.name.split("\n")[-1] in message
    for part in expected:
        assert part in message, f"{case}: {part!r} not in {message!r}"
    assert PRIVATE not in message
    assert "Isabella" not in message
    assert snapshot(store) == before


def test_missing_path_and_empty_folder(store: Store, tmp_path: Path) -> None:
    with pytest.raises(RequestFileError, match="no such file or folder"):
        _import(store, tmp_path / "nope.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RequestFileError, match="holds no"):
        _import(store, tmp_path / "empty")


def test_error_carries_its_parts(tmp_path: Path) -> None:
    path = write_json(tmp_path / "p.json", [request_obj("P-1"), request_obj("P-2", facts=[])])
    with pytest.raises(RequestFileError) as info:
        parse_file(path)
    err = info.value
    assert (err.path, err.where, err.field) == (str(path), "item 1", "facts")


def test_parse_paths_writes_nothing(tmp_path: Path) -> None:
    """Parsing is separate from storing: no database is even needed."""
    parsed = parse_paths([write_json(tmp_path / "r.json", request_obj("PP-1"))])
    assert [p.request_id for p in parsed] == ["PP-1"]
    assert parsed[0].facts[0][1] == PRIVATE_ANSWER
