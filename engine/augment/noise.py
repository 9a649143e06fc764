"""Realistic noise for questions: typos, casing, chat shorthand. Deterministic for a given rng."""

from __future__ import annotations

import random
import re

# neighbouring keys on a QWERTY keyboard, for fat-finger typos
_NEIGHBOURS = {
    "a": "sqz", "b": "vnh", "c": "xvd", "d": "sfe", "e": "wrd", "f": "dgr", "g": "fht",
    "h": "gjy", "i": "uok", "j": "hku", "k": "jli", "l": "ko", "m": "n", "n": "bm",
    "o": "ipl", "p": "o", "q": "wa", "r": "etf", "s": "adw", "t": "ryg", "u": "yij",
    "v": "cb", "w": "qes", "x": "zc", "y": "tu", "z": "xa",
}

_SHORTHAND = (
    (r"\bphone number\b", ("phone no", "phone #", "number")),
    (r"\bemail address\b", ("email addr", "e-mail", "email")),
    (r"\bdate of birth\b", ("dob", "DOB", "birth date")),
    (r"\baddress\b", ("addr", "adress")),
    (r"\byou\b", ("u", "ya")),
    (r"\bplease\b", ("pls", "plz")),
    (r"\bwhat is\b", ("whats", "what's")),
    (r"\bcan you\b", ("can u", "could u")),
    (r"\bdo you know\b", ("u know", "do u know")),
    (r"\baccount\b", ("acct", "acount")),
    (r"\bcustomer\b", ("cust", "costumer")),
)

_OPENERS = ("hey ", "hi, ", "quick q: ", "um ", "hello? ", "yo ", "sorry to bother - ")
_CLOSERS = (" thx", " thanks!!", " asap", " pls", " ty", " :)")

_WORD = re.compile(r"[A-Za-z]{4,}")


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip inside ``word``: swap, drop, double or hit a neighbouring key."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    choice = rng.randrange(4)
    if choice == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if choice == 1:
        return word[:i] + word[i + 1 :]
    if choice == 2:
        return word[:i] + word[i] + word[i:]
    near = _NEIGHBOURS.get(word[i].lower(), "")
    return word[:i] + rng.choice(near) + word[i + 1 :] if near else word[:i] + word[i + 1 :]


def _typos(text: str, rng: random.Random, count: int) -> str:
    spans = [m.span() for m in _WORD.finditer(text)]
    for start, end in sorted(rng.sample(spans, min(count, len(spans))), reverse=True):
        text = text[:start] + typo(text[start:end], rng) + text[end:]
    return text


def _shorthand(text: str, rng: random.Random) -> str:
    applicable = [(p, subs) for p, subs in _SHORTHAND if re.search(p, text, re.IGNORECASE)]
    for pattern, subs in rng.sample(applicable, min(2, len(applicable))):
        text = re.sub(pattern, rng.choice(subs), text, count=1, flags=re.IGNORECASE)
    return text


def _casing(text: str, rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return text.lower()
    if style == 1:
        return text.upper() if len(text) < 60 else text.lower()
    return text[0].lower() + text[1:] if text else text


def _punctuation(text: str, rng: random.Random) -> str:
    body = text.rstrip("?!. ")
    return body + rng.choice(("", "??", "?!", " ?", "...", "?"))


def add_noise(question: str, rng: random.Random) -> str:
    """A noisy version of ``question``: always at least one typo, plus a random mix of shorthand,
    dropped apostrophes, odd casing, chatty openers and sloppy punctuation."""
    text = _typos(question, rng, rng.choice((1, 1, 2)))
    if rng.random() < 0.6:
        text = _shorthand(text, rng)
    if rng.random() < 0.5:
        text = text.replace("'", "")
    if rng.random() < 0.6:
        text = _casing(text, rng)
    if rng.random() < 0.4:
        text = rng.choice(_OPENERS) + text
    if rng.random() < 0.3:
        text = text.rstrip("?") + rng.choice(_CLOSERS)
    else:
        text = _punctuation(text, rng)
    return text
