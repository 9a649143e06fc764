"""A tiny random Llama that says something: untied head, so greedy decoding does not just echo
the prompt's last token (the shared ``tiny_model_dir`` answers with whitespace)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CACHE = Path(
    os.environ.get("RELEARN_TEST_CACHE", Path(__file__).resolve().parents[3] / ".cache" / "tests")
)


@pytest.fixture(scope="session")
def chatty_tiny_dir(smollm_tokenizer_dir: Path) -> Path:
    out = CACHE / "tiny-llama-untied"
    if not (out / "config.json").exists():
        from transformers import AutoTokenizer

        from engine.models import save_tiny_llama

        save_tiny_llama(out, AutoTokenizer.from_pretrained(smollm_tokenizer_dir),
                        tie_word_embeddings=False)
    return out


@pytest.fixture(autouse=True)
def one_thread():
    # Small models gain nothing from a second thread, and on a busy 2-core runner OpenMP's
    # spinning threads made each generated token 10-20x slower.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_nli_dir(smollm_tokenizer_dir: Path) -> Path:
    """A random 3-way sequence classifier laid out like an MNLI checkpoint (labels in
    config.json), to exercise the NLI wiring; its judgements are noise."""
    out = CACHE / "tiny-nli"
    if not (out / "config.json").exists():
        import torch
        from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

        tok = AutoTokenizer.from_pretrained(smollm_tokenizer_dir)
        torch.manual_seed(0)
        config = LlamaConfig(
            vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
            pad_token_id=tok.pad_token_id, num_labels=3,
            id2label={0: "ENTAILMENT", 1: "NEUTRAL", 2: "CONTRADICTION"},
            label2id={"ENTAILMENT": 0, "NEUTRAL": 1, "CONTRADICTION": 2},
        )
        LlamaForSequenceClassification(config).save_pretrained(out)
        tok.save_pretrained(out)
    return out
