"""The chat layout of a tokenizer: a template for models whose file carries none, the marker
that closes an answer, and the start-of-text token a raw prompt needs.

Gemma's turn format has no system role (the system text opens the first user turn, as
Google's own template does), calls the assistant ``model``, and closes every turn with
``<end_of_turn>``, not with the ``<eos>`` token. The Gemma 3 270M GGUF is the pretrained model
and carries no template at all, so without one here every prompt would fall back to a plain
``Question:/Answer:`` layout and the end of an answer would be ``<eos>``, which a chat-tuned
Gemma never writes after its turn.
"""

from __future__ import annotations

from typing import Any

# Gemma's turns, written here: <bos>, then <start_of_turn>{user|model}\n{text}<end_of_turn>\n;
# system messages are joined into the next user turn, separated by a blank line
GEMMA_TURNS = (
    "{{- bos_token -}}"
    "{%- set ns = namespace(system='') -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}"
    "{%- set ns.system = ns.system + (message['content'] | trim) + '\n\n' -%}"
    "{%- else -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{- '<start_of_turn>' + role + '\n' -}}"
    "{%- if role == 'user' -%}{{- ns.system -}}{%- set ns.system = '' -%}{%- endif -%}"
    "{{- (message['content'] | trim) + '<end_of_turn>\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<start_of_turn>model\n' -}}{%- endif -%}"
)
# (tokens a vocabulary must have, template) for tokenizers that come without a template
FALLBACK_TEMPLATES = ((("<start_of_turn>", "<end_of_turn>"), GEMMA_TURNS),)


def ensure_chat_template(tokenizer: Any) -> Any:
    """Give ``tokenizer`` the turn template its vocabulary was made for when it has none."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer
    vocab = tokenizer.get_vocab()
    for tokens, template in FALLBACK_TEMPLATES:
        if all(t in vocab for t in tokens):
            tokenizer.chat_template = template
            break
    return tokenizer


_MARK = "\x00answer\x00"


def end_of_turn(tokenizer: Any) -> str:
    """What the chat template writes right after an assistant's answer, when that is one
    special token (``<|im_end|>`` for SmolLM2, ``<end_of_turn>`` for Gemma); else the eos."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": _MARK}],
            tokenize=False)
        after = text.partition(_MARK)[2].strip()
        if after and after in tokenizer.all_special_tokens + list(
                getattr(tokenizer, "added_tokens_encoder", {})):
            return after
    return tokenizer.eos_token or ""


def start_of_text(tokenizer: Any) -> str:
    """The token the tokenizer puts before a text by itself (Gemma's ``<bos>``; none for
    SmolLM2). Prompts are encoded without special tokens, since a chat template writes its own;
    a raw prompt needs this written in front instead."""
    bos = getattr(tokenizer, "bos_token", None)
    if not bos:
        return ""
    ids = tokenizer("a").input_ids
    return bos if ids and ids[0] == tokenizer.bos_token_id else ""
