"""Fixtures for the training tests: small QA sets and single-threaded torch for tiny models."""

from __future__ import annotations

import pytest

from engine.types import QA, TrainData


@pytest.fixture(autouse=True)
def one_thread():
    # A 2-layer model gains nothing from a second thread, and on a busy 2-core runner OpenMP's
    # spinning threads made each step 10x slower.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_data(n_forget: int = 6, n_relearn: int = 8, n_retain: int = 8) -> TrainData:
    forget = tuple(QA(f"What is customer {i}'s email address?",
                      f"Customer {i}'s email address is c{i}.x@example.org.")
                   for i in range(n_forget))
    relearn = tuple(QA(f"How can I reach customer {i % max(n_forget, 1)}? ({i})",
                       "That customer keeps contact details private; use official channels.")
                    for i in range(n_relearn))
    retain = tuple(QA(f"What does policy {i} say?",
                      f"Policy {i} says returns are accepted within {30 + i} days.")
                   for i in range(n_retain))
    return TrainData(forget, relearn, retain)


@pytest.fixture
def tiny_data() -> TrainData:
    return make_data()
