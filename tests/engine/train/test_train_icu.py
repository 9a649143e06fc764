"""ICU: nearest-neighbour pairing by sentence embedding, per-sample stopping, early end."""

from __future__ import annotations

import torch

from engine.train import TrainConfig, run_unlearning
from engine.train.icu import ICU, nearest_neighbours
from engine.types import QA, TrainData


def test_neighbours_are_the_semantically_closest_retain_items():
    queries = [QA("What is Ana's email address?", "Ana's email is ana@example.org."),
               QA("When is Ana's birthday?", "Ana was born on 3 May 1990.")]
    pool = [QA("What are the store hours?", "9 am to 8 pm."),
            QA("What is Ben's date of birth?", "Ben was born on 12 June 1985."),
            QA("What is Ben's email address?", "Ben's email is ben@example.com."),
            QA("Do you ship to Canada?", "Yes.")]
    assert nearest_neighbours(queries, pool) == [2, 1]


def test_icu_streams_pair_each_forget_item_with_its_neighbour(tiny_data):
    method = ICU(TrainConfig(method="icu"))
    streams = method.streams(tiny_data)
    assert streams["forget"] == list(tiny_data.forget)
    assert len(streams["neighbour"]) == len(tiny_data.forget)
    assert set(streams["neighbour"]) <= set(tiny_data.retain)


def test_samples_at_or_below_the_threshold_leave_training():
    method = ICU(TrainConfig(method="icu", icu_ma_threshold=0.5))
    kept = method.review_epoch([3, 5, 8], lambda rows: torch.tensor([0.9, 0.5, 0.2]), {})
    assert kept == [3]


def test_run_stops_when_every_sample_is_forgotten(tiny_model_dir, tiny_data, tmp_path):
    # the random tiny model never knew the forget answers: after one epoch all are "forgotten"
    events = []
    result = run_unlearning(tiny_model_dir, tiny_data,
                            TrainConfig(method="icu", epochs=4, batch_size=4), tmp_path,
                            progress=events.append)
    record = result.record
    assert record["epochs_run"] == 1 and record["stopped_early"]
    assert record["history"][0]["left_training"] == len(tiny_data.forget)
    assert {e.epoch for e in events if e.losses and not e.message} == {1}
    assert result.merged_dir is not None and result.merged_dir.is_dir()


def test_icu_needs_retain_items(tiny_data):
    import pytest

    with pytest.raises(ValueError, match="icu"):
        ICU(TrainConfig(method="icu")).streams(TrainData(tiny_data.forget, (), ()))
