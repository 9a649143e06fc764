"""Augmenting facts: generate, verify, regenerate what leaks, pick held-out probes."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.augment.audience import Audience
from engine.augment.backends import make_backend
from engine.augment.base import (
    AugmentBackend,
    AugmentError,
    BackendUnavailable,
    Draft,
    UnusableReply,
    fact_rng,
    stable_seed,
)
from engine.augment.completion import completion_pairs
from engine.augment.meaning import Embedder, MeaningCheck
from engine.augment.offline import OfflineBackend, build_plan, question_key
from engine.augment.verify import names_person, verify_item
from engine.pii import contains_value, extract_private_values
from engine.progress import CancelToken, Progress, ProgressFn, ignore_progress
from engine.types import FORWARD_KINDS, REVERSE_KINDS, VARIANT_KINDS, Fact, Variant, Verification


@dataclass
class AugmentConfig:
    """How to augment. ``max_attempts`` is how many times a variant that fails verification is
    regenerated (the issue's "up to 3 times"), so one variant gets at most 1 + max_attempts
    tries; ``Variant.attempts`` records how many it took."""

    backend: str = "offline"
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    per_kind: int = 3
    kinds: tuple[str, ...] = VARIANT_KINDS
    held_out_share: float = 0.25
    completions: int = 3
    max_attempts: int = 3
    use_presidio: bool = True
    # what the deployment's assistant is about and who its people are (plural), for contexts
    # and reverse questions (engine.augment.audience); neutral wording when unset
    domain: str = ""
    people: str = ""
    # the meaning check of verification (engine.augment.meaning)
    meaning_check: bool = True

    @property
    def audience(self) -> Audience:
        return Audience(self.domain, self.people)

    def __post_init__(self) -> None:
        self.kinds = tuple(self.kinds)
        unknown = [k for k in self.kinds if k not in VARIANT_KINDS]
        if unknown or not self.kinds:
            raise ValueError(
                f"AugmentConfig.kinds: {unknown or 'empty'} (allowed: {VARIANT_KINDS})"
            )
        if self.per_kind < 1:
            raise ValueError(f"AugmentConfig.per_kind must be at least 1, got {self.per_kind}")
        if not 0.0 <= self.held_out_share < 1.0:
            raise ValueError(
                f"AugmentConfig.held_out_share must be in [0, 1), got {self.held_out_share}"
            )
        if self.completions < 0 or self.max_attempts < 0:
            raise ValueError("AugmentConfig.completions and max_attempts must not be negative")


def fallback_mark(backend_name: str) -> str:
    """The backend recorded on variants the offline generator wrote in place of ``backend``."""
    return f"{backend_name}+offline"


def backend_seed(config: AugmentConfig, retry: int = 0) -> int:
    """The seed handed to the backend: the run's, or, on a retry after ``retry`` tries that
    stopped early (a server went away), one derived from both, so that a rerun does not
    repeat a failure exactly."""
    return config.seed if not retry else stable_seed(config.seed, "retry", retry)


@dataclass
class _Slot:
    kind: str
    question: str
    answer: str
    backend: str
    verification: Verification
    attempts: int = 1


def with_private_values(fact: Fact, *, use_presidio: bool = True) -> Fact:
    """The fact with every private value the PII finder sees in its answer added to the ones
    it already lists, so a caller that passed none (or too few) is still protected."""
    found = extract_private_values(
        fact.question, fact.answer, fact.subject_name, use_presidio=use_presidio
    )
    merged = tuple(dict.fromkeys((*fact.private_values, *found)))
    if merged == fact.private_values:
        return fact
    return dataclasses.replace(fact, private_values=merged)


class _Verifier:
    """verify_item and the meaning check, with per-fact caches: offline answers repeat across
    variants."""

    def __init__(self, fact: Fact, use_presidio: bool, meaning: MeaningCheck | None) -> None:
        self.fact = fact
        self.use_presidio = use_presidio
        self.meaning = meaning
        self._cache: dict[tuple[str, str], Verification] = {}

    def __call__(self, kind: str, question: str, answer: str) -> Verification:
        key = (question if kind == "completion" else "", answer)
        if key not in self._cache:
            self._cache[key] = verify_item(
                kind, question, answer, self.fact, use_presidio=self.use_presidio
            )
        found = self._cache[key]
        reasons = found.reasons
        if kind in FORWARD_KINDS and not names_person(question, self.fact.subject_name):
            reasons = (*reasons, "the question does not name the person")
        # a reverse question asks whose a detail is: without the detail it asks nothing
        # the forgetting needs ("Who is the customer?"), and a model server may write that.
        # The meaning check holds it to the fact's main value; without that check, to any
        if kind in REVERSE_KINDS and self.meaning is None and self.fact.private_values and not any(
                contains_value(question, pv.value) for pv in self.fact.private_values):
            reasons = (*reasons, "the reverse question holds none of the fact's private values")
        if self.meaning is not None:
            reasons = (*reasons, *self.meaning.reasons(kind, question))
        return Verification(not reasons, tuple(reasons))


def _clean(
    items: Iterable[tuple[str, str, str]], kinds: Sequence[str], default_backend: str
) -> list[Draft]:
    out = []
    for item in items:
        try:
            kind, question, answer = item
        except (TypeError, ValueError):
            continue
        if kind not in kinds or not isinstance(question, str) or not isinstance(answer, str):
            continue
        question, answer = " ".join(question.split()), " ".join(answer.split())
        if question and answer:
            source = getattr(item, "backend", "") or default_backend
            out.append(Draft(kind, question, answer, source))
    return out


def _regenerate(
    slots: list[_Slot],
    generate: Callable[[str, int], list[Draft]],
    verify: Callable[[str, str, str], Verification],
    used: set[str],
    max_attempts: int,
) -> None:
    """Replace failing slots with fresh drafts of the same kind, attempt by attempt.

    A slot that still fails after ``max_attempts`` regenerations keeps its last draft, flagged.
    """
    for attempt in range(1, max_attempts + 1):
        failing = [s for s in slots if not s.verification.ok]
        if not failing:
            return
        for kind in dict.fromkeys(s.kind for s in failing):
            try:
                fresh = generate(kind, attempt)
            except BackendUnavailable:
                raise
            except AugmentError:
                return  # the failing slots stay flagged with the reasons they have
            for slot in (s for s in failing if s.kind == kind):
                last = None
                for draft in fresh:
                    key = question_key(draft.question)
                    if key in used and key != question_key(slot.question):
                        continue
                    last = last or draft
                    if verify(kind, draft.question, draft.answer).ok:
                        last = draft
                        break
                if last is None:
                    slot.attempts = attempt + 1
                    continue
                fresh.remove(last)
                used.discard(question_key(slot.question))
                used.add(question_key(last.question))
                slot.question, slot.answer, slot.backend = last.question, last.answer, last.backend
                slot.verification = verify(kind, last.question, last.answer)
                slot.attempts = attempt + 1


def _held_out(slots: list[_Slot], share: float, rng: random.Random) -> set[int]:
    """Indices of the question variants kept out of training as probes: ``share`` of them,
    at least one when there are two or more, taken round-robin across kinds."""
    if share <= 0 or len(slots) < 2:
        return set()
    want = min(len(slots) - 1, max(1, round(share * len(slots))))
    by_kind: dict[str, list[int]] = {}
    for i, s in enumerate(slots):
        by_kind.setdefault(s.kind, []).append(i)
    order = list(by_kind)
    rng.shuffle(order)
    for idx in by_kind.values():
        rng.shuffle(idx)
    chosen: set[int] = set()
    while len(chosen) < want:
        for kind in order:
            if by_kind[kind] and len(chosen) < want:
                chosen.add(by_kind[kind].pop())
    return chosen


def augment_fact(
    fact: Fact,
    config: AugmentConfig | None = None,
    backend: AugmentBackend | None = None,
    *,
    embed: Embedder | None = None,
    notes: dict[str, str] | None = None,
    retry: int = 0,
    unusable: list[str] | None = None,
) -> list[Variant]:
    """All augmented items for one fact: question variants (some held out) and completions.

    Every answer is verified for leaks and every question for its meaning; failures are
    regenerated up to ``config.max_attempts`` times and then kept with ``verification.ok``
    False and the reasons, for the reviewer. ``embed`` replaces the meaning check's MiniLM;
    ``notes`` receives, per kind, why the fact got fewer variants of it than ``per_kind``;
    ``retry`` counts earlier tries that stopped early (see :func:`backend_seed`); the fact's id
    is appended to ``unusable`` when the backend's first reply for it was unusable.
    """
    config = config or AugmentConfig()
    backend = backend or make_backend(config.backend, config.audience, **config.backend_options)
    fact = with_private_values(fact, use_presidio=config.use_presidio)
    meaning = MeaningCheck(fact, embed) if config.meaning_check else None
    verify = _Verifier(fact, config.use_presidio, meaning)
    kinds = config.kinds
    # a model-backed backend whose replies are unusable for a fact does not stop the batch:
    # the offline generator writes that part, and its variants say so in their backend
    offline = OfflineBackend(config.audience) if backend.name != "offline" else None
    mark = fallback_mark(backend.name)
    seed = backend_seed(config, retry)
    fell_back: set[str] = set()

    def from_offline(kind_list: Sequence[str], attempt: int) -> list[Draft]:
        assert offline is not None
        fell_back.update(kind_list)
        raw = offline.variants(fact, kinds=kind_list, per_kind=config.per_kind,
                               seed=config.seed, attempt=attempt)
        return [Draft(k, q, a, mark) for k, q, a in raw]

    def generate(kind_list: Sequence[str], attempt: int) -> list[Draft]:
        try:
            raw = backend.variants(
                fact, kinds=kind_list, per_kind=config.per_kind, seed=seed, attempt=attempt
            )
        except UnusableReply:
            if offline is None:
                raise
            if unusable is not None and attempt == 0:
                unusable.append(fact.fact_id)
            raw = from_offline(kind_list, attempt)
        drafts = _clean(raw, kind_list, backend.name)
        if meaning is not None:
            meaning.prime([d.question for d in drafts if d.kind != "logical"])
        return drafts

    used = {question_key(fact.question)}
    slots: list[_Slot] = []
    per_kind_count: dict[str, int] = {}

    def take(drafts: Iterable[Draft]) -> None:
        for d in drafts:
            key = question_key(d.question)
            if key in used or per_kind_count.get(d.kind, 0) >= config.per_kind:
                continue
            used.add(key)
            per_kind_count[d.kind] = per_kind_count.get(d.kind, 0) + 1
            slots.append(_Slot(d.kind, d.question, d.answer, d.backend, verify(*d)))

    take(generate(kinds, 0))
    # a short reply (fewer than per_kind of a kind) is asked again for what it lacks, with
    # attempt numbers after the regenerations' so that the seeds differ from theirs
    for extra in range(1, config.max_attempts + 1):
        short = [k for k in kinds if per_kind_count.get(k, 0) < config.per_kind]
        if not short or backend.name == "offline":
            break
        for kind in short:
            take(generate([kind], config.max_attempts + extra))
    if offline is not None:
        short = [k for k in kinds if per_kind_count.get(k, 0) < config.per_kind]
        if short:
            take(from_offline(short, 0))
    if not slots:
        raise AugmentError(
            f"{backend.name} backend produced no usable variant for fact {fact.fact_id}"
        )
    _regenerate(slots, lambda k, a: generate([k], a), verify, used, config.max_attempts)
    slots.sort(key=lambda s: kinds.index(s.kind))
    if notes is not None:
        why = getattr(backend, "shortfalls", lambda _f: {})(fact)
        for kind in kinds:
            if kind in fell_back and any(s.kind == kind and s.backend == mark for s in slots):
                notes[kind] = (f"the {backend.name} backend's replies were short or unusable: "
                               f"the offline generator wrote some (marked {mark})")
            elif sum(s.kind == kind for s in slots) < config.per_kind:
                notes[kind] = why.get(kind, "the backend wrote fewer distinct questions")

    plan = build_plan(fact, config.audience)

    def completions(_: str, attempt: int) -> list[Draft]:
        rng = fact_rng(config.seed, fact.fact_id, "completion", attempt)
        n = config.completions + attempt  # a wider pool for replacements
        pairs = completion_pairs(fact, plan, n, rng)
        return [Draft("completion", p, t, "offline") for p, t in pairs]

    completion_slots: list[_Slot] = []
    if config.completions:
        for d in completions("completion", 0)[: config.completions]:
            completion_slots.append(_Slot(d.kind, d.question, d.answer, d.backend, verify(*d)))
        # completion prompts repeat by design (one opening, several continuations), so they
        # are not de-duplicated against each other: the key is the whole item
        _regenerate(completion_slots, completions, verify, set(), config.max_attempts)

    held = _held_out(slots, config.held_out_share, fact_rng(config.seed, fact.fact_id, "held-out"))
    return [
        Variant(
            fact_id=fact.fact_id,
            kind=s.kind,
            question=s.question,
            answer=s.answer,
            backend=s.backend,
            seed=config.seed,
            held_out=i in held,
            verification=s.verification,
            attempts=s.attempts,
        )
        for i, s in enumerate(slots + completion_slots)
    ]


def augment_facts(
    facts: Sequence[Fact],
    config: AugmentConfig | None = None,
    *,
    progress: ProgressFn = ignore_progress,
    cancel: CancelToken | None = None,
    on_fact: Callable[[Fact, list[Variant]], None] | None = None,
    notes: dict[str, dict[str, str]] | None = None,
    embed: Embedder | None = None,
    skip: Iterable[str] = (),
    retry: int = 0,
    backend: AugmentBackend | None = None,
) -> list[Variant]:
    """Augment every fact with one backend, reporting progress per fact.

    ``on_fact`` receives each fact's variants as soon as they exist (to store them before a
    cancel); a cancel raises :class:`engine.progress.Cancelled` between facts. Progress
    messages count facts and never quote them. ``notes`` receives, per fact id, why a kind got
    fewer variants (see :func:`augment_fact`).
    """
    config = config or AugmentConfig()
    # ``backend``: one built by the caller (a bench reading its request count)
    backend = backend or make_backend(config.backend, config.audience, **config.backend_options)
    out: list[Variant] = []
    done = set(skip)
    todo = [f for f in facts if f.fact_id not in done]
    total = len(todo)
    started = time.monotonic()
    fallbacks = 0  # facts without a usable reply from a model-backed backend
    progress(Progress("augment", 0, total, f"augmenting {total} facts with {backend.name}"
                      + (f" ({len(facts) - total} done earlier)" if len(facts) > total else "")))
    for i, fact in enumerate(todo, start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        fact_notes: dict[str, str] = {}
        unusable: list[str] = []
        variants = augment_fact(fact, config, backend, embed=embed, notes=fact_notes,
                                retry=retry, unusable=unusable)
        if notes is not None and fact_notes:
            notes[fact.fact_id] = fact_notes
        out.extend(variants)
        if on_fact is not None:
            on_fact(fact, variants)
        # a fact the server gave nothing usable for is written by the offline generator and
        # marked (its variants' backend says so); the batch goes on, and the progress line
        # counts such facts so that an operator sees a server that is not helping
        fallbacks += bool(unusable)
        elapsed = time.monotonic() - started
        flagged = sum(not v.verification.ok for v in out)
        fell_back = f", {fallbacks} by the offline generator" if fallbacks else ""
        progress(
            Progress(
                "augment", i, total,
                f"fact {i}/{total}: {len(out)} items, {flagged} flagged{fell_back}",
                eta_s=elapsed / i * (total - i),
            )
        )
    return out
