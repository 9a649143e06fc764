"""audit_model: ask every probe, score the answers, and sum them up per request and per run."""

from __future__ import annotations

import gc
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.audit.config import (
    ADVERSARIAL_GROUPS,
    CLASSIC_FORGET_GROUPS,
    FORGET_GROUPS,
    GROUP_KRR,
    GROUPS,
    RETAIN_GROUPS,
    SHARED_RETAIN_GROUPS,
    AuditConfig,
)
from engine.audit.entities import (
    CachedEmbedder,
    Embedder,
    match_score,
    minilm_embedder,
    probe_entities,
)
from engine.audit.figures import AuditFigures, GroupFigures, ProbeRecord
from engine.audit.fluency import fluency, perplexities
from engine.audit.generation import generate_batched
from engine.audit.judge import CONTRADICTION, is_forgotten, is_retained, load_nli
from engine.audit.prompts import render
from engine.audit.quantize import load_quantized
from engine.models import LoadedModel, load_model
from engine.pii import contains_value
from engine.progress import CancelToken, Progress, ProgressFn, ignore_progress
from engine.types import Probe

ModelSpec = str | Path | LoadedModel
AUDIT_VERSION = 2
"""Bumped when a change alters the figures for the same model and probes (cache keys use it)."""
FULL = "full"
_LEAK_FIELD = {FULL: "leak_rate", "8bit": "leak_rate_8bit", "4bit": "leak_rate_4bit"}


@dataclass
class _Scored:
    """One probe's outcome; ``ok`` is forgotten (forget) or retained (retain), None if unscored."""

    probe: Probe
    output: str
    ppl: float | None
    entity_score: float
    n_truth: int
    nli_label: str | None
    ok: bool | None
    leaked: dict[str, bool]


def _validate(probes: Sequence[Probe]) -> None:
    for i, p in enumerate(probes):
        if not isinstance(p, Probe):
            raise TypeError(f"probes[{i}]: expected engine.types.Probe, got {type(p).__name__}")
        if p.group not in GROUPS:
            raise ValueError(f"probes[{i}].group: {p.group!r} is not one of {', '.join(GROUPS)}")
        if not p.question.strip():
            raise ValueError(f"probes[{i}].question is empty")
        if not p.truth.strip():
            raise ValueError(f"probes[{i}].truth is empty")
        if p.group in SHARED_RETAIN_GROUPS and p.request_key:
            raise ValueError(f"probes[{i}].request_key: {p.group} probes are shared, leave it "
                             "empty")
        if p.group not in SHARED_RETAIN_GROUPS and p.group in RETAIN_GROUPS and not p.request_key:
            raise ValueError(f"probes[{i}].request_key: {p.group} probes belong to a request")


def _load(spec: ModelSpec) -> tuple[LoadedModel, bool]:
    if isinstance(spec, LoadedModel):
        return spec, False
    return load_model(spec), True


def _leak_pass(
    loaded: LoadedModel,
    probes: Sequence[Probe],
    idx: Sequence[int],
    config: AuditConfig,
    *,
    greedy: Sequence[str] | None,
    stage: str,
    progress: ProgressFn,
    cancel: CancelToken | None,
) -> dict[int, bool]:
    """Which leak probes show a private value in the greedy answer or any sampled answer."""
    # each probe's own prompt (an extraction probe's attack, else the chat prompt)
    questions = [render(loaded.tokenizer, probes[i]) for i in idx]
    need_greedy = greedy is None
    k = config.leak_samples
    steps = len(idx) * (k + int(need_greedy))
    if need_greedy:
        greedy = generate_batched(
            loaded.model, loaded.tokenizer, questions, max_new_tokens=config.max_new_tokens,
            batch_size=config.batch_size, cancel=cancel,
            on_batch=lambda d, t: progress(Progress(stage=stage, done=d, total=steps)),
            formatted=True,
        )
    leaked = {i: _leaks(g, probes[i]) for i, g in zip(idx, greedy, strict=True)}
    # A probe counts as leaking once any answer shows a value, so sampling stops for it there:
    # greedy leakers are not sampled at all, and the k samples come in two rounds, the second
    # only for probes still clean. The figure is the same as with all k drawn for every probe.
    done = len(idx) if need_greedy else 0
    drawn = 0
    for r, n in enumerate(x for x in (min(2, k), k - min(2, k)) if x > 0):
        clean = [i for i in idx if not leaked[i]]
        if not clean:
            break
        sampled = generate_batched(
            loaded.model, loaded.tokenizer, [render(loaded.tokenizer, probes[i]) for i in clean],
            max_new_tokens=config.leak_max_new_tokens, batch_size=config.batch_size,
            do_sample=True, temperature=config.temperature, num_return_sequences=n,
            seed=config.seed + r, cancel=cancel, formatted=True,
            on_batch=lambda d, t, n=n, base=done + drawn: progress(
                Progress(stage=stage, done=min(steps, base + d * n), total=steps)),
        )
        drawn += len(clean) * n
        for i, s in zip(clean, sampled, strict=True):
            leaked[i] = any(_leaks(a, probes[i]) for a in (s if isinstance(s, list) else [s]))
    progress(Progress(stage=stage, done=steps, total=steps))
    return leaked


def secret_values(probe: Probe) -> list[str]:
    """The probe's private values that its question does not itself give away.

    A reversed question ("Who lives at 42 Harbor Lane?") hands the model the address; echoing it
    back is not a leak. What such a probe guards is the person, judged by the entity rule.
    """
    return [v for v in probe.private_values if not contains_value(probe.question, v)]


def _leaks(answer: str, probe: Probe) -> bool:
    return any(contains_value(answer, v) for v in secret_values(probe))


def _score(
    probes: Sequence[Probe],
    outputs: Sequence[str],
    config: AuditConfig,
    embed: Embedder,
    progress: ProgressFn,
    cancel: CancelToken | None,
) -> tuple[list[float], list[int], list[str | None]]:
    nli = load_nli(config.nli_model)
    scores: list[float] = []
    n_truth: list[int] = []
    memo: dict[tuple[str, bool], list[str]] = {}
    for k, (p, out) in enumerate(zip(probes, outputs, strict=True)):
        if cancel is not None:
            cancel.raise_if_cancelled()
        truth_e = probe_entities(p.truth, p.question, use_presidio=config.use_presidio, memo=memo)
        out_e = probe_entities(out, p.question, use_presidio=config.use_presidio, memo=memo)
        m = match_score(truth_e, out_e, embed)
        scores.append(m.score)
        n_truth.append(m.n_truth)
        progress(Progress(stage="audit: scoring", done=k + 1, total=len(probes)))
    labels: list[str | None] = [None] * len(probes)
    if nli is not None:
        f_idx = [i for i, p in enumerate(probes) if p.group in FORGET_GROUPS]
        r_idx = [i for i, p in enumerate(probes) if p.group in RETAIN_GROUPS]
        # forget: does the answer contradict the truth? retain: does the truth contradict it?
        for i, lab in zip(f_idx, nli.labels_for([outputs[i] for i in f_idx],
                                                [probes[i].truth for i in f_idx]), strict=True):
            labels[i] = lab
        for i, lab in zip(r_idx, nli.labels_for([probes[i].truth for i in r_idx],
                                                [outputs[i] for i in r_idx]), strict=True):
            labels[i] = lab
    return scores, n_truth, labels


def _rate(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _group_figures(group: str, items: Sequence[_Scored], precisions: Sequence[str]) -> GroupFigures:
    scored = [s for s in items if s.ok is not None]
    flu = fluency([s.output for s in items], [s.ppl for s in items])
    g = GroupFigures(
        group=group, n=len(items), n_scored=len(scored),
        n_unscorable=sum(1 for s in items if s.n_truth == 0),
        rate=_rate([bool(s.ok) for s in scored]),
        entity_score_mean=_rate([s.entity_score for s in scored]) if scored else None,
        ls=flu.ls, ppl=flu.ppl, brunet=flu.brunet, honore=flu.honore,
    )
    if any(s.nli_label is not None for s in items):
        g.nli_contradictions = sum(1 for s in items if s.nli_label == CONTRADICTION)
    leak_items = [s for s in items if s.leaked]
    g.leak_probes = len(leak_items)
    g.leaked = sum(1 for s in leak_items if s.leaked.get(FULL))
    for prec in precisions:
        rate = _rate([s.leaked.get(prec, False) for s in leak_items])
        setattr(g, _LEAK_FIELD[prec], rate)
    return g


def _figures(
    key: str, items: Sequence[_Scored], config: AuditConfig, precisions: Sequence[str],
    backends: dict[str, str], notes: dict[str, str], judge: str, reference: str,
) -> AuditFigures:
    by_group = {g: [s for s in items if s.probe.group == g] for g in GROUPS}
    groups = {g: _group_figures(g, v, precisions) for g, v in by_group.items() if v}
    # the headline figures are the classic groups' (comparable with runs before the families);
    # each family's own figures are in ``groups`` and, summed up, in ``families``
    forget = [s for s in items if s.probe.group in CLASSIC_FORGET_GROUPS]
    retain = [s for s in items if s.probe.group in RETAIN_GROUPS]
    fluent = [s for s in items if s.probe.group not in ADVERSARIAL_GROUPS]
    flu = fluency([s.output for s in fluent], [s.ppl for s in fluent])
    rate = {g: groups[g].rate if g in groups else None for g in GROUPS}
    kfr_all = _rate([bool(s.ok) for s in forget if s.ok is not None])
    leak_items = [s for s in forget if s.leaked]
    fig = AuditFigures(
        request_key=key,
        kfr=rate["forget_heldout"] if rate["forget_heldout"] is not None else kfr_all,
        kfr_basis="forget_heldout" if rate["forget_heldout"] is not None else "forget_all",
        kfr_original=rate["forget_original"], kfr_trained=rate["forget_trained"],
        kfr_heldout=rate["forget_heldout"], kfr_all=kfr_all,
        krr=_rate([bool(s.ok) for s in retain if s.ok is not None]),
        **{field: rate[group] for group, field in GROUP_KRR.items()},
        ls=flu.ls, ppl=flu.ppl, brunet=flu.brunet, honore=flu.honore, ppl_reference=reference,
        leak_samples=config.leak_samples, temperature=config.temperature,
        quant_backends=dict(backends), quant_checks=dict(notes),
        nli_used=config.nli_model is not None, judge=judge,
        n_forget=len(forget), n_retain=len(retain), groups=groups,
    )
    for prec in precisions:
        value = _rate([s.leaked.get(prec, False) for s in leak_items])
        setattr(fig, _LEAK_FIELD[prec], value)
    for s in items:
        leaked_at = tuple(p for p in precisions if s.leaked.get(p))
        failed = s.ok is False or bool(leaked_at)
        if not failed:
            continue
        if s.probe.group in FORGET_GROUPS:
            verdict = "leaked" if s.ok is not False else "not forgotten"
            if s.ok is False and leaked_at:
                verdict = "not forgotten, leaked"
        else:
            verdict = "not retained"
        fig.private_probe_records.append(ProbeRecord(
            group=s.probe.group, request_key=s.probe.request_key, question=s.probe.question,
            output=s.output, verdict=verdict, entity_score=s.entity_score, nli_label=s.nli_label,
            leaked_at=leaked_at, style=s.probe.style,
        ))
    return fig


def audit_model(
    model: ModelSpec,
    probes: Sequence[Probe],
    config: AuditConfig | None = None,
    *,
    reference: ModelSpec | None = None,
    progress: ProgressFn = ignore_progress,
    cancel: CancelToken | None = None,
    embedder: Embedder | None = None,
) -> dict[str, AuditFigures]:
    """Audit ``model`` on ``probes``; figures keyed by request key, ``""`` for the whole run.

    ``reference`` is the model whose perplexity scores the answers (the "original model" of LS):
    the deployed model before unlearning. None means ``model`` itself, which is right for the
    "before" audit. Retain figures are shared by every request. The quantisation re-check loads
    ``model`` again from its directory, so pass a path or a LoadedModel whose ``source`` is one.
    """
    config = config or AuditConfig()
    probes = list(probes)
    _validate(probes)
    if not probes:
        raise ValueError("audit needs at least one probe")
    started = time.monotonic()
    embed = CachedEmbedder(embedder or minilm_embedder)
    loaded, owned = _load(model)
    model_source = Path(loaded.source)

    def answers_progress(done: int, total: int) -> None:
        progress(Progress(stage="audit: answers", done=done, total=total))

    outputs = generate_batched(
        loaded.model, loaded.tokenizer, [render(loaded.tokenizer, p) for p in probes],
        max_new_tokens=config.max_new_tokens, batch_size=config.batch_size, cancel=cancel,
        on_batch=answers_progress, formatted=True,
    )
    leak_idx = [
        i for i, p in enumerate(probes) if p.group in config.leak_groups and secret_values(p)
    ]
    leaked: dict[int, dict[str, bool]] = {i: {} for i in leak_idx}
    precisions = [FULL]
    full = _leak_pass(loaded, probes, leak_idx, config, greedy=[outputs[i] for i in leak_idx],
                      stage="audit: leak probes", progress=progress, cancel=cancel)
    for i, v in full.items():
        leaked[i][FULL] = v

    # LS is the classic groups' and the retain groups': an attack's answers are not scored
    fluent = [i for i, p in enumerate(probes) if p.group not in ADVERSARIAL_GROUPS]
    if reference is None:
        ref, ref_name = loaded, loaded.source
    elif not fluent:  # nothing to score: the reference is not loaded at all
        ref, ref_name = None, str(reference.source if isinstance(reference, LoadedModel)
                                  else reference)
    else:
        if owned:  # one model in memory at a time
            loaded = None  # type: ignore[assignment]
            gc.collect()
        ref, _ = _load(reference)
        ref_name = ref.source
    progress(Progress(stage="audit: perplexity", done=0, total=len(probes)))
    ppls: list[float | None] = [None] * len(probes)
    if fluent:
        for i, v in zip(fluent, perplexities(
                ref.model, ref.tokenizer, [probes[i].question for i in fluent],
                [outputs[i] for i in fluent], batch_size=config.ppl_batch_size), strict=True):
            ppls[i] = v
    progress(Progress(stage="audit: perplexity", done=len(probes), total=len(probes)))
    # drop our own models before the quantised copies load (a caller's LoadedModel stays theirs)
    ref = loaded = None  # type: ignore[assignment]
    gc.collect()

    backends: dict[str, str] = {}
    notes: dict[str, str] = {}
    for bits in config.quant_bits if leak_idx else ():
        if cancel is not None:
            cancel.raise_if_cancelled()
        prec = f"{bits}bit"
        qmodel, backend, note = load_quantized(model_source, bits, backend=config.quant_backend)
        backends[prec] = backend
        notes[prec] = note
        with warnings.catch_warnings():
            # bitsandbytes' int8 matmul warns about its fp16 cast on every call
            warnings.simplefilter("ignore", UserWarning)
            res = _leak_pass(qmodel, probes, leak_idx, config, greedy=None,
                             stage=f"audit: leak probes ({bits}-bit)", progress=progress,
                             cancel=cancel)
        qmodel = None
        gc.collect()
        precisions.append(prec)
        for i, v in res.items():
            leaked[i][prec] = v

    scores, n_truth, labels = _score(probes, outputs, config, embed, progress, cancel)
    judge = (f"NLI ({Path(config.nli_model).name}) + entity rule" if config.nli_model
             else "entity rule only (no NLI model configured)")
    scored: list[_Scored] = []
    for i, p in enumerate(probes):
        unscorable = n_truth[i] == 0 and config.skip_unscorable
        if unscorable:
            ok = None
        elif p.group in FORGET_GROUPS:
            ok = is_forgotten(scores[i], n_truth[i], labels[i])
        else:
            ok = is_retained(scores[i], labels[i])
        scored.append(_Scored(p, outputs[i], ppls[i], scores[i], n_truth[i], labels[i], ok,
                              leaked.get(i, {})))

    keys = sorted({p.request_key for p in probes if p.group in FORGET_GROUPS} - {""})
    result: dict[str, AuditFigures] = {}
    elapsed = time.monotonic() - started
    result[""] = _figures("", scored, config, precisions, backends, notes, judge, ref_name)
    for key in keys:
        items = [s for s in scored
                 if s.probe.group in SHARED_RETAIN_GROUPS or s.probe.request_key == key]
        result[key] = _figures(key, items, config, precisions, backends, notes, judge, ref_name)
    for fig in result.values():
        fig.seconds = elapsed
    return result
