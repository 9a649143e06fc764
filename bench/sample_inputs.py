"""The sample deployment's run inputs as the application builds them, for every bench.

The requests are read by the application's importer, the settings and corpus by its
deployment loader; the facts are numbered as a fresh database numbers them (import order, from
1), so augmentation draws the same variants as ``make run`` does; the standing approval policy
approves every unflagged item; and the engine's one builder turns them into training data and
probes. A bench's figures are then figures of what the application trains and asks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_requests"


@dataclass(frozen=True)
class SampleRequest:
    request_id: str
    subject_name: str
    facts: tuple[Any, ...]  # engine Facts, private values found, ids as a fresh database's


def sample_deployment(path: Path = SAMPLE / "deployment.toml"):
    from relearn_tui.deployment import load_deployment

    return load_deployment(path)


def sample_requests(folder: Path = SAMPLE) -> list[SampleRequest]:
    """The folder's requests, oldest first (the order a run takes them in)."""
    from engine.pii import extract_private_values
    from engine.types import Fact, PrivateValue
    from relearn_tui.importer import parse_paths

    out: list[tuple[Any, SampleRequest]] = []
    seen: set[str] = set()
    fact_id = 0
    for r in parse_paths([folder]):
        if r.request_id in seen:  # the importer stores a repeated request once
            continue
        seen.add(r.request_id)
        facts = []
        for q, a in r.facts:
            fact_id += 1
            values = tuple(PrivateValue(v.category, v.value)
                           for v in extract_private_values(q, a, r.subject_name))
            facts.append(Fact(str(fact_id), r.subject_name, q, a, values))
        out.append(((r.received_at, r.request_id),
                    SampleRequest(r.request_id, r.subject_name, tuple(facts))))
    return [req for _, req in sorted(out, key=lambda x: x[0])]


def approved_items(requests: list[SampleRequest], augment_config: Any) -> list[Any]:
    """Each request augmented as the application augments it, and under the standing policy
    its unflagged items approved; returns the builder's RequestItems."""
    from engine.augment import augment_facts
    from engine.run_inputs import RequestItems

    out = []
    for req in requests:
        variants = augment_facts(list(req.facts), augment_config)
        out.append(RequestItems(req.request_id, req.subject_name, req.facts,
                                tuple(v for v in variants
                                      if v.held_out or v.verification.ok)))
    return out


def sample_run_inputs(folder: Path = SAMPLE, **probe_overrides: Any) -> dict[str, Any]:
    """A sample deployment (``folder``: the first sample, or ``SAMPLE / "authors"``), its
    requests' items, and the run's training data and probes. ``probe_overrides`` change
    [probes] settings (None: the deployment's)."""
    from engine.run_inputs import build_run_inputs
    from relearn_tui.deployment import load_corpus

    dep = sample_deployment(folder / "deployment.toml")
    settings = dataclasses.replace(
        dep.probes, **{k: v for k, v in probe_overrides.items() if v is not None})
    items = approved_items(sample_requests(folder), dep.augment)
    corpus = load_corpus(dep.corpus) if dep.corpus else []
    data, probes = build_run_inputs(items, corpus, settings)
    return {"deployment": dep, "items": items, "corpus": corpus, "probe_settings": settings,
            "data": data, "probes": probes}
