"""engine.chat_format on a word-level tokenizer with Gemma's special tokens (the real Gemma
tokenizer takes 30 s to read from its GGUF: tests/engine/test_gemma.py, slow)."""

from __future__ import annotations

import pytest

from engine.audit.prompts import render
from engine.chat_format import GEMMA_TURNS, end_of_turn, ensure_chat_template, start_of_text
from engine.models import SYSTEM_PROMPT, answer_suffix, format_prompt, stop_at_end_of_turn
from engine.types import Probe


def gemma_like_tokenizer(*, with_bos: bool = True):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    special = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
    words = ["user", "model", "hi", "a", "b"]
    vocab = {t: i for i, t in enumerate(special + words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if with_bos:  # as Gemma's tokenizer does: <bos> before every text
        tok.post_processor = processors.TemplateProcessing(
            single="<bos> $A", special_tokens=[("<bos>", vocab["<bos>"])])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>",
                                   pad_token="<pad>", unk_token="<unk>")
    fast.add_special_tokens({"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]})
    return fast


def test_a_gemma_vocabulary_without_a_template_gets_the_turn_format():
    tok = ensure_chat_template(gemma_like_tokenizer())
    assert tok.chat_template == GEMMA_TURNS
    # no system role: the system text opens the user's turn; the assistant is "model"
    assert format_prompt(tok, "Hi?") == (
        f"<bos><start_of_turn>user\n{SYSTEM_PROMPT}\n\nHi?<end_of_turn>\n"
        "<start_of_turn>model\n")
    # a whole conversation: the system text goes into the first user turn only
    text = tok.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": " q1 "},
         {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}],
        tokenize=False, add_generation_prompt=True)
    assert text == ("<bos><start_of_turn>user\nS\n\nq1<end_of_turn>\n<start_of_turn>model\n"
                    "a1<end_of_turn>\n<start_of_turn>user\nq2<end_of_turn>\n"
                    "<start_of_turn>model\n")


def test_a_tokenizer_with_a_template_or_without_the_turn_tokens_is_left_alone(
        smollm_tokenizer_dir):
    from transformers import AutoTokenizer

    smol = AutoTokenizer.from_pretrained(smollm_tokenizer_dir)
    template = smol.chat_template
    assert ensure_chat_template(smol).chat_template == template
    vocab_less = ensure_chat_template(_without_turns())
    assert vocab_less.chat_template is None
    assert answer_suffix(vocab_less) == "<eos>"  # no template: the eos closes an answer


def _without_turns():
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, "hi": 3}
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, "<unk>")),
                                   eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")


def test_the_answer_ends_with_the_turn_marker_not_the_eos(smollm_tokenizer_dir):
    from transformers import AutoTokenizer, GenerationConfig

    gemma = ensure_chat_template(gemma_like_tokenizer())
    assert end_of_turn(gemma) == answer_suffix(gemma) == "<end_of_turn>"
    config = GenerationConfig(eos_token_id=gemma.eos_token_id)
    stop_at_end_of_turn(config, gemma)
    assert config.eos_token_id == [gemma.eos_token_id, gemma.convert_tokens_to_ids("<end_of_turn>")]
    stop_at_end_of_turn(config, gemma)  # idempotent
    assert len(config.eos_token_id) == 2
    # SmolLM2's turn marker is its eos: nothing changes for it
    smol = AutoTokenizer.from_pretrained(smollm_tokenizer_dir)
    assert answer_suffix(smol) == smol.eos_token == "<|im_end|>"
    config = GenerationConfig(eos_token_id=smol.eos_token_id)
    stop_at_end_of_turn(config, smol)
    assert config.eos_token_id == smol.eos_token_id


@pytest.mark.parametrize("with_bos", [True, False])
def test_a_raw_probe_starts_with_the_bos_its_tokenizer_would_add(with_bos):
    tok = ensure_chat_template(gemma_like_tokenizer(with_bos=with_bos))
    assert start_of_text(tok) == ("<bos>" if with_bos else "")
    probe = Probe("forget_extraction", "hi a", "hi a b", "K", ("b",), style="raw", raw=True)
    assert render(tok, probe) == ("<bos>hi a" if with_bos else "hi a")
    # a chat-formatted probe has it from the template, once
    jail = Probe("forget_extraction", "hi", "a", "K", ("a",), style="jailbreak", system="S")
    assert render(tok, jail).count("<bos>") == 1
