"""The backend interface every variant generator implements, and seeding shared by all of them."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from engine.types import Fact


class AugmentError(Exception):
    """Augmentation failed; the message names the backend and the fact id, never its content."""


class BackendUnavailable(AugmentError):
    """The backend's server cannot be used right now (unreachable, refusing, rate-limited past
    the retries, slower than the timeout, or replying with nothing usable fact after fact):
    the batch stops, the facts finished so far stay finished."""


class UnusableReply(AugmentError):
    """The backend answered for this fact, but not with usable variants after the re-asks: the
    fact falls back to the offline generator, marked, and the batch goes on."""


class Draft(tuple):
    """A generated ``(kind, question, answer)`` triple that also knows which generator wrote it.

    It unpacks like the plain triple the :class:`AugmentBackend` protocol promises; ``backend``
    lets a backend that falls back to another one (the local model to templates) say so honestly.
    """

    backend: str

    def __new__(cls, kind: str, question: str, answer: str, backend: str = "") -> Draft:
        obj = super().__new__(cls, (kind, question, answer))
        obj.backend = backend
        return obj

    @property
    def kind(self) -> str:
        return self[0]

    @property
    def question(self) -> str:
        return self[1]

    @property
    def answer(self) -> str:
        return self[2]


@runtime_checkable
class AugmentBackend(Protocol):
    """Writes question variants with sanitised answers for one fact.

    ``attempt`` is 0 for the first try and counts up for regenerations after a verification
    failure; a backend must return something different for a different attempt where it can.
    Items may be plain ``(kind, question, answer)`` tuples or :class:`Draft` s.
    """

    name: str

    def variants(
        self, fact: Fact, *, kinds: Sequence[str], per_kind: int, seed: int, attempt: int
    ) -> list[tuple[str, str, str]]: ...


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from the parts' text, the same on every machine and Python run.

    Python's ``hash()`` is salted per process, so it would break determinism across runs.
    """
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def fact_rng(seed: int, fact_id: str, *parts: object) -> random.Random:
    """The random stream for one fact (and optionally one kind, attempt, ...) under a run seed."""
    return random.Random(stable_seed(seed, fact_id, *parts))
