"""The whole audit in stages, each stored as it finishes so an interrupted audit resumes.

Stages, in order: ``core`` (today's probes: original, trained and held-out variants, and the
retain probes; the headline KFR, KRR, LS and leak rates), ``independent``, ``extraction``
(each one :func:`engine.audit.audit_model` pass over its family, so its answers, samples and
4-bit re-check share generation batches across the family's prompts and requests) and
``membership`` (likelihoods only, no generation). A stage's figures, private probe records
included, are written to ``checkpoint/<stage>.json`` with a fingerprint of what it measured;
a later call with the same model, probes and settings reads them back instead of asking
again. The folder is removed once the audit is complete: the caller stores the result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.audit.config import (
    ADVERSARIAL_GROUPS,
    FORGET_GROUPS,
    MEMBERSHIP_GROUP,
    RELEARN_GROUP,
    AuditConfig,
)
from engine.audit.families import FAMILIES, FAMILY_GROUP, GROUP_FAMILY
from engine.audit.figures import AuditFigures
from engine.audit.runner import AUDIT_VERSION, ModelSpec, _load, audit_model
from engine.progress import CancelToken, Progress, ProgressFn, ignore_progress
from engine.types import Probe

STAGES = ("core", "independent", "extraction", "membership", "relearn")
_STAGE_GROUPS = {"independent": ("forget_independent",), "extraction": ("forget_extraction",)}


def stage_of(probe: Probe) -> str:
    if probe.group == MEMBERSHIP_GROUP:
        return "membership"
    if probe.group == RELEARN_GROUP:
        return "relearn"
    return GROUP_FAMILY[probe.group] if probe.group in ADVERSARIAL_GROUPS else "core"


def _source(model: ModelSpec | None) -> str:
    return str(model.source if hasattr(model, "source") else model)


def _fingerprint(stage: str, model: ModelSpec, probes: Sequence[Probe],
                 config: AuditConfig, control: ModelSpec | None = None) -> str:
    body = json.dumps([AUDIT_VERSION, stage, _source(model), _source(control), config.to_dict(),
                       [dataclasses.astuple(p) for p in probes]], default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _read(path: Path, fingerprint: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if data.get("fingerprint") == fingerprint else None


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # private (the failing probes' answers): readable by the owner only
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def _membership(model: ModelSpec, items: Sequence[Probe], config: AuditConfig
                ) -> dict[str, dict[str, Any]]:
    from engine.audit.membership import membership_auc

    loaded, _ = _load(model)
    pairs = membership_auc(loaded.model, loaded.tokenizer, items, k=config.mia_k,
                           batch_size=config.ppl_batch_size)
    return {key: {"mia_auc": won / n if n else None, "mia_pairs": n}
            for key, (won, n) in pairs.items()}


def _run_stage(stage: str, model: ModelSpec, probes: Sequence[Probe], config: AuditConfig,
               reference: ModelSpec | None, progress: ProgressFn, cancel: CancelToken | None,
               embedder: Any, control: ModelSpec | None = None,
               workdir: Path | None = None) -> dict[str, Any]:
    started = time.monotonic()
    if stage == "relearn":
        from engine.audit.relearn_attack import relearn_attack

        progress(Progress(stage="audit: relearning attack", done=0, total=1))
        figures: dict[str, Any] = relearn_attack(_source(model), _source(control), probes,
                                                 config, cancel=cancel, workdir=workdir,
                                                 progress=progress)
        progress(Progress(stage="audit: relearning attack", done=1, total=1))
    elif stage == "membership":
        figures = _membership(model, probes, config)
    else:
        res = audit_model(model, probes, config, reference=reference, progress=progress,
                          cancel=cancel, embedder=embedder)
        figures = {k: f.to_dict(include_private=True) for k, f in res.items()}
    return {"figures": figures, "seconds": round(time.monotonic() - started, 2)}


def _merge(key: str, parts: dict[str, dict[str, Any]],
           styles: dict[str, dict[str, dict[str, int]]] | None = None) -> AuditFigures:
    """One request's (or the run's) figures from every stage's; ``styles``: per family, per
    style, how many probes (``n``) and leak probes (``leak_probes``) it asked."""
    core = parts.get("core", {}).get("figures", {}).get(key)
    fig = AuditFigures.from_dict(core) if core else AuditFigures(request_key=key)
    for stage in ("independent", "extraction"):
        data = parts.get(stage, {}).get("figures", {}).get(key)
        if not data:
            continue
        extra = AuditFigures.from_dict(data)
        for g in _STAGE_GROUPS[stage]:
            if g in extra.groups:
                fig.groups[g] = extra.groups[g]
        fig.private_probe_records += [r for r in extra.private_probe_records
                                      if r.group in _STAGE_GROUPS[stage]]
        for prec, backend in extra.quant_backends.items():
            fig.quant_backends.setdefault(prec, backend)
        for prec, note in extra.quant_checks.items():
            fig.quant_checks.setdefault(prec, note)
    attack = parts.get("relearn", {}).get("figures", {}).get(key)
    if attack:
        fig.relearn = dict(attack)
        fig.relearn_recovery = attack.get("relearn_recovery")
    mia = parts.get("membership", {}).get("figures", {}).get(key)
    if mia:
        fig.mia_auc, fig.mia_pairs = mia["mia_auc"], mia["mia_pairs"]
    fig.stage_seconds = {s: parts[s]["seconds"] for s in STAGES if s in parts}
    fig.seconds = round(sum(fig.stage_seconds.values()), 2)
    summarise_families(fig)
    for family, by_style in (styles or {}).items():
        if family not in fig.families:
            continue
        records = [r for r in fig.private_probe_records if r.group == FAMILY_GROUP[family]]
        fig.families[family]["styles"] = {
            style: {**c,
                    "not_forgotten": sum(1 for r in records if r.style == style
                                         and r.verdict.startswith("not forgotten")),
                    "leaked": sum(1 for r in records if r.style == style
                                  and "full" in r.leaked_at)}
            for style, c in by_style.items()}
    return fig


def _style_counts(probes: Sequence[Probe], key: str, config: AuditConfig
                  ) -> dict[str, dict[str, dict[str, int]]]:
    """Per adversarial family and style, the probes asked (of request ``key``; "" all)."""
    from engine.audit.runner import secret_values

    out: dict[str, dict[str, dict[str, int]]] = {}
    for p in probes:
        if p.group not in ADVERSARIAL_GROUPS or (key and p.request_key != key):
            continue
        c = out.setdefault(GROUP_FAMILY[p.group], {}).setdefault(
            p.style, {"n": 0, "leak_probes": 0})
        c["n"] += 1
        c["leak_probes"] += int(p.group in config.leak_groups and bool(secret_values(p)))
    return out


def summarise_families(fig: AuditFigures) -> None:
    """Fill ``fig.families`` from its groups, and the worst case over the families."""
    fig.families = {}
    for family in FAMILIES:
        g = fig.groups.get(FAMILY_GROUP[family])
        if g is None:
            continue
        fig.families[family] = {
            "n": g.n, "n_scored": g.n_scored, "kfr": g.rate, "leak_probes": g.leak_probes,
            "leak_rate": g.leak_rate, "leak_rate_8bit": g.leak_rate_8bit,
            "leak_rate_4bit": g.leak_rate_4bit,
        }
    kfrs = {f: v["kfr"] for f, v in fig.families.items() if v["kfr"] is not None}
    leaks = {f: v["leak_rate"] for f, v in fig.families.items() if v["leak_rate"] is not None}
    leaks4 = [v["leak_rate_4bit"] for v in fig.families.values()
              if v["leak_rate_4bit"] is not None]
    if kfrs:
        fig.kfr_worst_family = min(kfrs, key=lambda f: kfrs[f])
        fig.kfr_worst = kfrs[fig.kfr_worst_family]
    if leaks:
        fig.leak_rate_worst_family = max(leaks, key=lambda f: leaks[f])
        fig.leak_rate_worst = leaks[fig.leak_rate_worst_family]
    fig.leak_rate_4bit_worst = max(leaks4) if leaks4 else None


def audit_families(
    model: ModelSpec,
    probes: Sequence[Probe],
    config: AuditConfig | None = None,
    *,
    reference: ModelSpec | None = None,
    progress: ProgressFn = ignore_progress,
    cancel: CancelToken | None = None,
    embedder: Any = None,
    checkpoint: Path | None = None,
    control: ModelSpec | None = None,
) -> dict[str, AuditFigures]:
    """Audit every probe family of ``probes`` (see the module); figures keyed by request key,
    ``""`` for the run, as :func:`engine.audit.audit_model` returns them, with ``families``,
    the worst case, membership inference and each stage's seconds filled in. ``control`` is
    the model that never learned the facts (the base model): with it, and only then, the
    relearning attack runs (``model`` and ``control`` must then be folders or names)."""
    config = config or AuditConfig()
    probes = list(probes)
    unknown = [p.group for p in probes if p.group not in (MEMBERSHIP_GROUP, RELEARN_GROUP)
               and p.group not in FORGET_GROUPS and not p.group.startswith("retain_")]
    if unknown:
        raise ValueError(f"probes: unknown group(s) {sorted(set(unknown))}")
    by_stage: dict[str, list[Probe]] = {s: [] for s in STAGES}
    for p in probes:
        by_stage[stage_of(p)].append(p)
    if not by_stage["core"]:
        raise ValueError("audit needs the core probes (original questions, retain probes)")
    parts: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        stage_probes = by_stage[stage]
        if not stage_probes or (stage == "relearn" and control is None):
            continue
        if cancel is not None:
            cancel.raise_if_cancelled()
        fingerprint = _fingerprint(stage, model, stage_probes, config,
                                   control if stage == "relearn" else None)
        path = checkpoint / f"{stage}.json" if checkpoint is not None else None
        stored = _read(path, fingerprint) if path is not None else None
        if stored is not None:
            progress(Progress(stage=f"audit: {stage}", done=1, total=1, message="stored"))
            parts[stage] = stored
            continue

        def relay(p: Progress, stage: str = stage) -> None:
            # core keeps the runner's own stage names; a family's steps are named after it
            progress(p if stage == "core" else dataclasses.replace(
                p, stage=p.stage.replace("audit:", f"audit: {stage}", 1)))

        parts[stage] = _run_stage(stage, model, stage_probes, config, reference, relay,
                                  cancel, embedder, control,
                                  checkpoint / "work" if checkpoint is not None else None)
        if path is not None:
            _write(path, {**parts[stage], "fingerprint": fingerprint})
    keys = set(parts["core"]["figures"])
    for stage in ("independent", "extraction", "membership", "relearn"):
        keys |= set(parts.get(stage, {}).get("figures", {}))
    result = {key: _merge(key, parts, _style_counts(probes, key, config))
              for key in sorted(keys)}
    if checkpoint is not None:
        shutil.rmtree(checkpoint, ignore_errors=True)
    return result
