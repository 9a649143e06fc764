"""Issue #24's acceptance test: 1,000 generated hostile request files and command-line
arguments against one data directory, through the command's own entry point. Not one may end
in a traceback, import part of a file, or print (or log) a private value of a request.

The generator is seeded: a failure names its case number, and the same run reproduces it.
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

from relearn_tui.cli import main
from relearn_tui.store import Store

FILES, ARGUMENTS = 800, 200
SEED = 24


@dataclass
class Case:
    n: int
    argv: list[str]
    private: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # what a successful import adds
    env: dict[str, str] = field(default_factory=dict)


def _person(n: int) -> tuple[str, str, str]:
    return f"Hostile Person{n}", f"hostile.person{n}@example.org", f"ref-{n}-x"


def _request(n: int, k: int = 0) -> dict:
    name, email, ref = _person(n)
    return {"request_id": f"H-{n:04d}-{k}", "subject": {"name": name, "reference": ref},
            "received_at": "2026-11-20T09:00:00Z", "ground": "art17-1a",
            "facts": [{"question": f"What is {name}'s email address?",
                       "answer": f"{name}'s email address is {email}."}]}


BAD_CHARS = ["\n", "\r", "\t", "\x1b[31m", "\x85", "\u202e", "\u200b", "\u2028", "\x00", "\x7f",
             "\ufeff", "\u2066"]


def _mutate(rng: random.Random, n: int, obj: dict) -> tuple[bytes | None, dict | None]:
    """One hostile change: returns raw bytes (when not JSON any more) or the changed object."""
    name, email, ref = _person(n)
    kind = rng.randrange(16)
    if kind == 0:
        obj["subject"]["name"] = name[:5] + rng.choice(BAD_CHARS) + name[5:]
    elif kind == 1:
        obj["ground"] = rng.choice([f"art17 {name}", f"art17 {email}", f"art17 {ref}",
                                    "art17\n- state: **verified**", "x" * 65,
                                    "art" + rng.choice(BAD_CHARS) + "17"])
    elif kind == 2:
        obj["subject"]["reference"] = ref[:3] + rng.choice(BAD_CHARS) + ref[3:]
    elif kind == 3:
        obj[email] = name  # an unknown key that is a private value
    elif kind == 4:
        obj["facts"][0][rng.choice(["question", "answer"])] = rng.choice(
            [None, 7, [], {}, True, "", "  ", "x" * 4001, "a\x00b", "a\x08b"])
    elif kind == 5:
        obj["subject"] = rng.choice([None, name, [name], {"name": 5}, {"nom": name}])
    elif kind == 6:
        obj["request_id"] = rng.choice(["../etc/passwd", "H-1\n", "", 12, "x" * 65,
                                        "-x", "a b", f"H-{n}\u202e", None]) or 0
    elif kind == 7:
        obj["received_at"] = rng.choice(["tomorrow", "2999-01-01T00:00:00Z", 20261120,
                                         "1999-12-31T00:00:00Z", "0001-01-01T00:00+01:00"])
    elif kind == 8:
        obj["facts"] = rng.choice([[], None, "facts", [1, 2], [{"question": "q"}]])
    elif kind == 9:
        raw = json.dumps(obj).encode()
        return raw[: rng.randrange(1, len(raw) - 1)], None  # cut short
    elif kind == 10:
        raw = json.dumps(obj, ensure_ascii=False).encode()
        at = rng.randrange(len(raw))
        return raw[:at] + rng.choice([b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80"]) + raw[at:], None
    elif kind == 11:
        return json.dumps(obj).replace(name, name[:3] + "\\ud800" + name[3:]).encode(), None
    elif kind == 12:
        return ("[" * 100_000 + "]" * 100_000).encode(), None
    elif kind == 13:
        return json.dumps({**obj, "facts": [{"question": "q", "answer": "1" * 5000}]}).replace(
            '"1111', "1111").replace('111"', "111").encode(), None  # a 5,000-digit number
    elif kind == 14:
        obj["subject"]["name"] = rng.choice(["", " ", "x" * 201, 3.5])
    else:
        obj["facts"].append({"text": name, "labels": email, "extra": 1})
    return None, obj


def _file_case(rng: random.Random, n: int, folder: Path) -> Case:
    """A file of 1-4 requests; all valid (about one in ten) or exactly one hostile."""
    count = rng.randint(1, 4)
    objs = [_request(n, k) for k in range(count)]
    hostile = rng.random() > 0.1
    raw = None
    if hostile:
        victim = rng.randrange(count)
        raw, changed = _mutate(rng, n, objs[victim])
        if changed is not None:
            objs[victim] = changed
    suffix = rng.choice([".json", ".jsonl"])
    if raw is None:
        raw = (("\n".join(json.dumps(o, ensure_ascii=rng.random() < 0.5) for o in objs))
               if suffix == ".jsonl" else json.dumps(objs if count > 1 else objs[0])).encode()
    # a hostile file name, but not a private value: an error message names the file
    stem = rng.choice([b"req", b"r\nq", b"r\x1b[2Jq", b"r\xffq", b"r q", b"-r", b"r\u202eq"
                       .decode("unicode_escape").encode()])
    path = os.path.join(os.fsencode(folder), stem + b"-%d" % n + suffix.encode())
    with open(path, "wb") as fh:
        fh.write(raw)
    name, email, ref = _person(n)
    return Case(n, ["--headless", "--json", os.fsdecode(path)], [name, email, ref],
                [] if hostile else [o["request_id"] for o in objs])


def _argument_case(rng: random.Random, n: int, home: Path, tmp: Path) -> Case:
    """A hostile decision, report or operator on the stored requests of the valid files."""
    target = rng.choice(["H-0000-0", "H-0001-0", "DSR-NOPE", "H-1\n", "RUN-0001",
                         "\x1b[2J", "H-0000-0\u202e"])
    name, email, ref = _person(0)
    reason = rng.choice([f"{name} asked", f"mail {email}", f"see {ref}", "Person0 asked",
                         "a\nb", "\x1b[31mred", "\u202eevil", "", " ", "x" * 501, "fine"])
    operator = rng.choice(["op", " ", "x" * 129, "op\x1b[2J", "op\nroot", "op\u200b", "op"])
    kind = rng.randrange(6)
    if kind == 0:
        argv = ["request", rng.choice(["deny", "cancel"]), target, "--reason", reason]
    elif kind == 1:
        argv = ["request", "extend", target, "--months",
                rng.choice(["0", "-1", "3", "1", "99999999999999999999", "x"]),
                "--reason", reason]
    elif kind == 2:
        out = rng.choice([str(home / "relearn.db"), str(home / "secret.key"), os.devnull,
                          str(tmp), str(tmp / "file" / "under.md"), "-",
                          os.fsdecode(os.fsencode(str(tmp)) + b"/r\xff.md"),
                          str(tmp / "ok.md")])
        argv = ["report", target, "--format", rng.choice(["md", "html", "json", "pdf"]),
                "--out", out]
    elif kind == 3:
        argv = ["log", rng.choice(["verify", "show", "head"])]
    elif kind == 4:
        argv = ["log", "verify", "--head", rng.choice(["x", "1:" + "0" * 63, "nope:" + "a" * 64])]
    else:
        argv = ["--headless", rng.choice([str(tmp / "missing.json"), str(tmp), os.devnull])]
    return Case(n, [*argv, "--operator", operator], [name, email, ref])


def _requests(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM request")).scalar_one()


# ours, or argparse's usage error ("relearn-tui request extend: error: ...")
ONE_LINE_ERROR = re.compile(r"^(error: |relearn-tui( [a-z]+)*: error: )")
TRACE = re.compile(r"Traceback|File \"|^\s+\^+$", re.MULTILINE)


def test_a_thousand_hostile_inputs(home: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(SEED)
    files = tmp_path / "files"
    files.mkdir()
    (tmp_path / "file").write_text("x")
    cases = [_file_case(rng, n, files) for n in range(FILES)]
    assert main(["log", "verify"]) == 0  # the data directory and its database exist
    capsys.readouterr()
    store = Store(f"sqlite:///{home / 'relearn.db'}")
    cases += [_argument_case(rng, FILES + i, home, tmp_path) for i in range(ARGUMENTS)]
    every_private = [v for c in cases for v in c.private]
    codes: dict[int, int] = {}
    for case in cases:
        before = _requests(store)
        try:
            rc = main(case.argv)
        except SystemExit as exc:  # argparse: a usage error, its own two lines
            rc = int(exc.code or 0)
        out, err = capsys.readouterr()
        where = f"case {case.n}: {case.argv!r}"
        codes[rc] = codes.get(rc, 0) + 1
        assert rc in (0, 1, 2), f"{where}: exit {rc}: {err}"
        assert not TRACE.search(out + err), f"{where}: {err}"
        for value in case.private:
            assert value.lower() not in (out + err).lower(), f"{where}: {value!r} shown"
        added = _requests(store) - before
        if case.argv[0] == "--headless":
            if rc == 0:
                assert added == len(case.ids), where
            else:
                assert added == 0, f"{where}: partial import of {added}"
        if rc == 2 and case.argv[0] != "report" and case.argv[0] != "log":
            assert ONE_LINE_ERROR.match(err.strip().splitlines()[-1]), f"{where}: {err}"
    log = (home / "logs" / "relearn-tui.log").read_text(encoding="utf-8", errors="replace")
    assert not [v for v in every_private if v.lower() in log.lower()]
    assert main(["log", "verify"]) == 0, capsys.readouterr().out
    # the generator did produce both outcomes
    assert codes.get(0, 0) > 50 and codes.get(2, 0) > 500, codes
    store.close()
