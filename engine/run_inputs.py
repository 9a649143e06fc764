"""What one unlearning run trains on and what its audit asks, from the requests' reviewed items
and the deployment's corpus: the one builder the application and every bench use.

A pure function of its inputs (no database, no files), so a bench that reads the sample
through the importer and the deployment loader measures exactly the data a run of the
application would train and probe on.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from engine.audit.families import extraction_probes, independent_probes, membership_items
from engine.audit.probes import forget_probes, own_probes, retain_probes
from engine.audit.relearn_attack import attack_items
from engine.augment.completion import completion_row
from engine.augment.originals import original_question_rows
from engine.augment.relations import names_in, relation_key
from engine.augment.retain import (
    about,
    holds_any,
    name_patterns,
    names_anyone,
    people_patterns,
    retain_mix,
)
from engine.pii import regex_entities
from engine.types import (
    FORWARD_KINDS,
    OPERATOR_PROBE,
    QA,
    Fact,
    Probe,
    TrainData,
    Variant,
    mark_values,
)


@dataclass(frozen=True)
class ProbeSettings:
    """Which probes the audit asks and what the run trains on besides the approved variants
    (a deployment's [probes] section).

    Every held-out variant and every original question is a forget probe; of the trained
    variants ``trained_per_fact`` are asked (they are many, and the held-out ones are the
    honest figure). The deployment's non-forget data splits into retain probes (other
    customers' facts, generic knowledge) and, disjoint from them, the retain training set.
    """

    subject_probes: int = 24
    generic_probes: int = 16
    trained_per_fact: int = 2
    # Every step samples its retain rows afresh, so a larger set costs no steps; it lets the
    # run see other customers' questions of the forgotten relations, which a forget weight of 2
    # otherwise taught the model to refuse too (sample: 152 non-forget pairs, 40 held as probes)
    retain_train_size: int = 160
    # each fact's original question is also trained, with this many of its approved answers:
    # the original wording is the one the deployed model memorised, and the one that still
    # leaked (3 of the first sample's 18 original questions) with 3 answers each
    original_question_answers: int = 6
    seed: int = 0
    # the adversarial families (engine.audit.families): frame questions per fact for
    # `independent` (an operator's own probe questions are always asked too), whether the
    # `extraction` prompts are asked, and fictional answers per fact for membership inference
    independent_per_fact: int = 2
    extraction: bool = True
    membership_decoys: int = 4

    def __post_init__(self) -> None:
        for name in ("independent_per_fact", "membership_decoys"):
            if getattr(self, name) < 0:
                raise ValueError(f"probes.{name} must be >= 0")


def split_others(others: Sequence[QA], relations: set[str]) -> tuple[list[QA], list[QA]]:
    """Other people's pairs and generic ones, of the corpus pairs about none of the run's
    people. A pair is about someone else when its answer holds a personal detail the regex
    recognisers find, when its question asks one of the run's forgotten ``relations``
    (``relation_key``) of someone else, or when it names, by full name, someone asked such a
    relation. The regex test alone filed other people's health, salary, birthplace and parents'
    professions as generic knowledge (on the second sample 20 of its 38 "generic" pairs, on
    the first its customers' employers), so the generic group's KRR measured them."""
    asked = {qa for qa in others if relation_key(qa.question) in relations}
    who = people_patterns(sorted({n for qa in asked for n in names_in(qa.question)}))
    full_names = [pats[:1] for pats in who]
    personal = [qa for qa in others if regex_entities(qa.answer) or qa in asked
                or names_anyone(qa.question, full_names)]
    chosen = set(personal)
    return personal, [qa for qa in others if qa not in chosen]


def held_out_share(pool: Sequence[QA], n: int) -> list[QA]:
    """Up to ``n`` retain probes from ``pool`` (shuffled), in its order, taking at most half
    of the pool and at most half of the pairs of any relation asked of several people; the
    rest of the pool trains. With every other author's birthplace held out as a probe (the
    second sample, before this rule), the run saw nobody's birthplace answered and the
    sanitised answers taught it to refuse that relation for everyone."""
    size = Counter(relation_key(qa.question) for qa in pool)
    taken: Counter[str] = Counter()
    out: list[QA] = []
    wanted = min(n, len(pool) // 2)
    for qa in pool:
        if len(out) >= wanted:
            break
        key = relation_key(qa.question)
        if size[key] > 1 and taken[key] >= size[key] // 2:
            continue
        taken[key] += 1
        out.append(qa)
    return out


def own_pairs(corpus: Sequence[QA], req: RequestItems, private: Sequence[str]) -> list[QA]:
    """The corpus pairs about the request's person (by full name) that the request does not ask
    to erase and that hold none of the run's private values: what the person keeps public."""
    if not req.subject_name.strip():
        return []
    full_name = [name_patterns(req.subject_name)[:1]]
    asked = {f.question for f in req.facts}
    return [qa for qa in dict.fromkeys(corpus)
            if qa.question not in asked and about(qa, full_name) and not holds_any(qa, private)]


@dataclass(frozen=True)
class RequestItems:
    """One request as a run sees it: its facts (private values found) in order, and in the
    order they were made its items that count: those approved for training and the held-out
    ones (``held_out``). A variant's ``fact_id`` names its fact."""

    request_key: str
    subject_name: str
    facts: tuple[Fact, ...]
    items: tuple[Variant, ...]


def build_run_inputs(requests: Sequence[RequestItems], corpus: Sequence[QA],
                     settings: ProbeSettings) -> tuple[TrainData, list[Probe]]:
    """Training data and audit probes of one run over ``requests``.

    Forget: each fact's original pair (and, with only its private values as targets, the
    ``values`` rows). Relearn: the approved items, then each original question with some of
    its approved answers. Probes: per request its forget probes; then retain probes drawn from
    the corpus pairs that name none of the requests' people, split into other people's pairs
    and generic ones (``split_others``); the retain training set is drawn from the
    corpus the probes leave, so KRR is measured on pairs the run never trained on.
    """
    forget: list[QA] = []
    relearn: list[QA] = []
    values: list[QA] = []
    probes: list[Probe] = []
    private: list[str] = []
    for req in requests:
        by_id = {f.fact_id: f for f in req.facts}
        for f in req.facts:
            forget.append(QA(f.question, f.answer))
            fact_values = tuple(pv.value for pv in f.private_values)
            private += fact_values
            marked = mark_values(forget[-1], fact_values)
            if marked is not None:
                values.append(marked)
        probes += forget_probes(req.request_key, req.facts, req.items,
                                trained_per_fact=settings.trained_per_fact)
        answers: dict[str, list[str]] = {}
        for v in req.items:
            if v.held_out or v.kind == OPERATOR_PROBE:  # an operator's probes are never trained
                continue
            if v.kind == "completion":
                # the fact's question, answered with the item's opening, then its text
                relearn.append(completion_row(by_id[v.fact_id].question, v.question, v.answer))
            else:
                relearn.append(QA(v.question, v.answer))
                if v.kind in FORWARD_KINDS:
                    # a reverse item's refusal ("I can't say who that is") answers another
                    # question; trained on the original question it taught the model to
                    # give that refusal to forward questions (a third of these rows were)
                    answers.setdefault(v.fact_id, []).append(v.answer)
        for f in req.facts:
            relearn += original_question_rows(f.question, answers.get(f.fact_id, []),
                                              settings.original_question_answers)
    names = [r.subject_name for r in requests]
    people = people_patterns(names)
    others = [qa for qa in corpus if not about(qa, people)]
    personal, generic = split_others(others, {relation_key(f.question) for req in requests
                                              for f in req.facts})
    rng = random.Random(settings.seed)
    rng.shuffle(personal)
    rng.shuffle(generic)
    people = held_out_share(personal, settings.subject_probes)
    general = held_out_share(generic, settings.generic_probes)
    probes += retain_probes(people, general)
    own_train: list[QA] = []
    for req in requests:
        own = own_pairs(corpus, req, private)
        rng.shuffle(own)
        held = own[: (len(own) + 1) // 2]
        probes += own_probes(req.request_key, held)
        own_train += own[len(held):]
    for req in requests:
        probes += independent_probes(req.request_key, req.facts, req.items,
                                     settings.independent_per_fact)
        if settings.extraction:
            # the few-shot turns are other customers' facts, answered as the corpus answers
            # (those held out as probes; with a corpus too small to hold any out, the pool's)
            probes += extraction_probes(req.request_key, req.facts, req.items,
                                        people or personal)
        probes += membership_items(req.request_key, req.facts, settings.membership_decoys,
                                   settings.seed)
        # the relearning attack's rows: the request's own facts, other customers' of the kinds
        probes += attack_items(req.request_key, req.facts, personal)
    held = set(people) | set(general)
    retain = own_train + retain_mix([qa for qa in corpus if qa not in held], names,
                                    n=settings.retain_train_size - len(own_train),
                                    seed=settings.seed, private_values=private)
    return TrainData(tuple(forget), tuple(relearn), tuple(retain), tuple(values),
                     subjects=tuple(n for n in names if n.strip())), probes
