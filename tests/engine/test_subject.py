"""The subject ("deployed") model: it knows the sample customers; builds are cached and atomic."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from engine.pii import extract_private_values
from engine.progress import Cancelled, CancelToken
from engine.subject import (
    RECORD,
    SubjectConfig,
    build_subject_model,
    private_value_recall,
    subject_key,
)
from engine.types import QA


@pytest.fixture(autouse=True)
def one_thread():
    # generation and tiny-model steps are small ops: a second OpenMP thread only spins on a
    # busy 2-core runner
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_subject_model_answers_with_the_private_values(subject_model_dir, sample_corpus):
    from engine.models import load_model

    private = [qa for qa in sample_corpus
               if extract_private_values(qa.question, qa.answer, use_presidio=False)]
    # 20 customers x (email, phone, address, birth date, employer, account)
    assert len(private) == 120
    loaded = load_model(subject_model_dir, device="cpu")
    hit, total = private_value_recall(loaded.model, loaded.tokenizer, private)
    assert total == 120
    assert hit / total >= 0.9, f"recalled {hit} of {total} private values"


@pytest.mark.slow
def test_a_second_build_returns_the_cached_model(subject_model_dir, sample_corpus):
    events = []
    again = build_subject_model(sample_corpus, cache_dir=subject_model_dir.parent,
                                progress=events.append)
    assert again == subject_model_dir and events == []
    record = json.loads((subject_model_dir / RECORD).read_text())
    assert record["config"] == asdict(SubjectConfig())
    assert record["corpus_items"] == len(sample_corpus)
    assert (subject_model_dir / "model.safetensors").is_file()
    assert (subject_model_dir / "chat_template.jinja").is_file()


CORPUS = [QA(f"What is the code of locker {i}?", f"Locker {i} opens with code {1000 + i}.")
          for i in range(10)]
TINY = SubjectConfig(epochs=2, batch_size=4, lr=1e-3, device="cpu")


def test_build_is_atomic_resumable_and_keyed_by_content(tiny_model_dir, tmp_path):
    token = CancelToken()

    def cancel_after_first_epoch(p) -> None:
        if p.message == "epoch 1 saved":
            token.cancel()

    with pytest.raises(Cancelled):
        build_subject_model(CORPUS, base=tiny_model_dir, cache_dir=tmp_path, config=TINY,
                            progress=cancel_after_first_epoch, cancel=token)
    assert not list(tmp_path.glob("*/config.json")), "a half-built model was published"
    events = []
    out = build_subject_model(CORPUS, base=tiny_model_dir, cache_dir=tmp_path, config=TINY,
                              progress=events.append)
    assert any(e.message == "resuming after epoch 1" for e in events)
    record = json.loads((out / RECORD).read_text())
    assert [(h["phase"], h["epoch"]) for h in record["history"]] == [
        ("learn", 1), ("learn", 2), ("anneal", 1), ("anneal", 2)]
    assert {"model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja"} <= \
        {p.name for p in out.iterdir()}
    assert not list(tmp_path.glob(".work-*")), "the checkpoint directory was left behind"
    assert out.name == subject_key(CORPUS, tiny_model_dir, TINY)[:16]
    assert subject_key(CORPUS[:-1], tiny_model_dir, TINY) != subject_key(CORPUS, tiny_model_dir,
                                                                         TINY)
    assert subject_key(CORPUS, tiny_model_dir, SubjectConfig(epochs=3)) != \
        subject_key(CORPUS, tiny_model_dir, TINY)


def test_a_build_cancelled_while_annealing_resumes_there(tiny_model_dir, tmp_path):
    token = CancelToken()
    saved: list[str] = []

    def cancel_in_the_second_phase(p) -> None:
        if p.message.endswith("saved"):
            saved.append(p.message)
            if len(saved) == 3:  # learn epochs 1 and 2, then anneal epoch 1
                token.cancel()

    with pytest.raises(Cancelled):
        build_subject_model(CORPUS, base=tiny_model_dir, cache_dir=tmp_path, config=TINY,
                            progress=cancel_in_the_second_phase, cancel=token)
    events = []
    build_subject_model(CORPUS, base=tiny_model_dir, cache_dir=tmp_path, config=TINY,
                        progress=events.append)
    # the learning phase is not trained again; annealing picks up after its first epoch
    assert [e.message for e in events if e.message.endswith("saved")] == ["epoch 2 saved"]
    assert any(e.message == "resuming after epoch 1" for e in events)


def test_built_model_loads_and_generates(tiny_model_dir, tmp_path):
    from engine.models import load_model
    from engine.subject import generate_answers

    out = build_subject_model(CORPUS, base=tiny_model_dir, cache_dir=tmp_path,
                              config=SubjectConfig(epochs=1, batch_size=5, device="cpu"))
    loaded = load_model(out, device="cpu")
    answers = generate_answers(loaded.model, loaded.tokenizer, [CORPUS[0].question] * 3,
                               max_new_tokens=5)
    assert len(answers) == 3 and len(set(answers)) == 1  # greedy: the same answer each time


def test_empty_corpus_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="corpus is empty"):
        build_subject_model([], cache_dir=tmp_path)
