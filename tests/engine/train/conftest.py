"""Fixtures for the training tests: small QA sets and single-threaded torch for tiny models."""

from __future__ import annotations

import pytest
from train_samples import make_data

from engine.types import TrainData


@pytest.fixture(autouse=True)
def one_thread():
    # A 2-layer model gains nothing from a second thread, and on a busy 2-core runner OpenMP's
    # spinning threads made each step 10x slower.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_data() -> TrainData:
    return make_data()
