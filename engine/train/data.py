"""Tokenised training streams, dynamic padding and the per-epoch batch plan.

Every sample is ``format_prompt(question)`` followed by ``answer + answer_suffix``; the prompt's
labels are -100 so that no loss ever sees them. Batches are padded to their own longest row.
The batch order of an epoch is a pure function of (seed, epoch), which is what makes a run
resumed from an epoch checkpoint follow the same path as one that never stopped.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from engine.models import answer_suffix, format_prompt
from engine.types import QA

IGNORE = -100


class DataError(ValueError):
    """A training item cannot be used; the message names the stream and index, never its text."""


def tokenise(items: Sequence[QA], tokenizer: Any, max_length: int, stream: str):
    """A ``datasets.Dataset`` with ``input_ids``, ``labels`` and ``length`` per item.

    An answer longer than the room left after its prompt is cut at ``max_length``; a prompt that
    leaves no room for a single answer token is an error.
    """
    from datasets import Dataset

    suffix = answer_suffix(tokenizer)
    table = Dataset.from_dict(
        {"question": [qa.question for qa in items], "answer": [qa.answer for qa in items],
         "index": list(range(len(items)))}
    )

    spans = [qa.targets for qa in items]
    marked = any(spans)
    if marked and not getattr(tokenizer, "is_fast", False):
        raise DataError(f"{stream}: items with target spans need a fast tokenizer (offsets)")

    def encode(batch: dict[str, list]) -> dict[str, list]:
        prompts = [format_prompt(tokenizer, q) for q in batch["question"]]
        targets = [a + suffix for a in batch["answer"]]
        p_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
        t_enc = tokenizer(targets, add_special_tokens=False, return_offsets_mapping=marked)
        out: dict[str, list] = {"input_ids": [], "labels": [], "length": []}
        for row, (idx, p, t) in enumerate(zip(batch["index"], p_ids, t_enc["input_ids"],
                                              strict=True)):
            if len(p) >= max_length:
                raise DataError(
                    f"{stream} item {idx}: prompt is {len(p)} tokens, max_length is {max_length}"
                )
            if not t:
                raise DataError(f"{stream} item {idx}: empty answer")
            t = t[: max_length - len(p)]
            labels = list(t)
            if spans[idx]:
                # a span that runs to the answer's end takes the end-of-answer marker with it
                end_of = len(batch["answer"][row])
                row_spans = [(s, e if e < end_of else end_of + len(suffix))
                             for s, e in spans[idx]]
                keep = [any(s < end and start < e for s, e in row_spans)
                        for start, end in t_enc["offset_mapping"][row][: len(t)]]
                labels = [y if k else IGNORE for y, k in zip(t, keep, strict=True)]
                if not any(keep):
                    raise DataError(f"{stream} item {idx}: its target spans fall outside the "
                                    f"first {max_length} tokens")
            out["input_ids"].append(p + t)
            out["labels"].append([IGNORE] * len(p) + labels)
            out["length"].append(len(p) + len(t))
        return out

    if not items:
        return Dataset.from_dict({"index": [], "input_ids": [], "labels": [], "length": []})
    return table.map(encode, batched=True, remove_columns=["question", "answer"],
                     keep_in_memory=True, load_from_cache_file=False)


@dataclass
class Rows:
    """Tokenised rows of one stream, kept as plain lists for cheap batch assembly."""

    input_ids: list[list[int]]
    labels: list[list[int]]

    @classmethod
    def from_dataset(cls, ds) -> Rows:
        return cls(list(ds["input_ids"]), list(ds["labels"]))

    def __len__(self) -> int:
        return len(self.input_ids)

    def lengths(self) -> list[int]:
        return [len(x) for x in self.input_ids]


@dataclass
class StepBatch:
    """The rows of all streams of one step, right-padded into one tensor for a single forward."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    slices: dict[str, slice]
    picks: dict[str, tuple[int, ...]] = field(default_factory=dict)  # each stream's row indices

    @property
    def tokens(self) -> int:
        return int(self.attention_mask.sum())

    def to(self, device: Any) -> StepBatch:
        return StepBatch(self.input_ids.to(device), self.attention_mask.to(device),
                         self.labels.to(device), self.slices, self.picks)


def collate(parts: dict[str, tuple[Rows, Sequence[int]]], pad_id: int) -> StepBatch:
    """Stack the chosen rows of each stream, padded to the longest row of the step."""
    ids: list[list[int]] = []
    labels: list[list[int]] = []
    slices: dict[str, slice] = {}
    chosen: dict[str, tuple[int, ...]] = {}
    for name, (rows, picks) in parts.items():
        start = len(ids)
        for i in picks:
            ids.append(rows.input_ids[i])
            labels.append(rows.labels[i])
        slices[name] = slice(start, len(ids))
        chosen[name] = tuple(picks)
    width = max((len(x) for x in ids), default=1)
    n = len(ids)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    label_t = torch.full((n, width), IGNORE, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    for r, (x, y) in enumerate(zip(ids, labels, strict=True)):
        input_ids[r, : len(x)] = torch.tensor(x)
        label_t[r, : len(y)] = torch.tensor(y)
        mask[r, : len(x)] = 1
    return StepBatch(input_ids, mask, label_t, slices, chosen)


def epoch_batches(
    lengths: Sequence[int], active: Sequence[int], batch_size: int, seed: int, epoch: int, *,
    buckets: bool, min_rows: int = 1,
) -> list[list[int]]:
    """The primary stream's batches for one epoch.

    With ``buckets``, a shuffled order is cut into windows of 16 batches, each window sorted by
    length before it is cut into batches, and the batches shuffled again: rows of similar length
    share a batch (less padding) while the order stays random.
    """
    rng = random.Random(f"batches:{seed}:{epoch}")
    order = list(active)
    rng.shuffle(order)
    if buckets:
        window = batch_size * 16
        order = [i for w in range(0, len(order), window)
                 for i in sorted(order[w : w + window], key=lambda i: lengths[i])]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if buckets:
        rng.shuffle(batches)
    # every process of a distributed run needs at least one row of each batch
    for b in batches:
        k = 0
        while len(b) < min_rows and order:
            b.append(order[k % len(order)])
            k += 1
    return batches


def sampled_indices(n: int, per_step: int, steps: int, seed: int, epoch: int, name: str
                    ) -> list[list[int]]:
    """Rows of a side stream (retain) for each step: cycles through shuffled passes of it."""
    if n == 0:
        return [[] for _ in range(steps)]
    rng = random.Random(f"{name}:{seed}:{epoch}")
    pool: list[int] = []
    out = []
    for _ in range(steps):
        while len(pool) < per_step:
            block = list(range(n))
            rng.shuffle(block)
            pool.extend(block)
        out.append(pool[:per_step])
        pool = pool[per_step:]
    return out
