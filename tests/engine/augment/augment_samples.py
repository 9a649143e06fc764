"""The sample requests' facts as engine Facts, shared by the augmentation tests."""

from __future__ import annotations

import json
from pathlib import Path

from engine.types import Fact

SAMPLE = Path(__file__).resolve().parents[3] / "sample_requests"


def _requests() -> list[dict]:
    reqs = [json.loads(p.read_text()) for p in sorted(SAMPLE.glob("*.json"))]
    for p in sorted(SAMPLE.glob("*.jsonl")):
        if p.name != "corpus.jsonl":
            reqs += [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    return reqs


def request_facts() -> list[list[Fact]]:
    """One list of facts per sample request (DSR-2026-0041, -0042, -0043)."""
    return [
        [
            Fact(f"{r['request_id']}/{i}", r["subject"]["name"], f["question"], f["answer"])
            for i, f in enumerate(r["facts"])
        ]
        for r in _requests()
    ]


def corpus_facts() -> list[Fact]:
    """Every customer fact of the demo corpus: 20 customers, 6 facts each, in blocks whose first
    question is "What is <name>'s email address?"."""
    rows = [json.loads(line) for line in (SAMPLE / "corpus.jsonl").read_text().splitlines()]
    facts = []
    for i in range(0, len(rows), 6):
        first_q = rows[i]["question"]
        if not (first_q.startswith("What is ") and first_q.endswith("'s email address?")):
            break
        name = first_q[len("What is ") : -len("'s email address?")]
        for j, row in enumerate(rows[i : i + 6]):
            facts.append(Fact(f"{name}/{j}", name, row["question"], row["answer"]))
    return facts
