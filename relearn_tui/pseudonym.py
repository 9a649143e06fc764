"""Keyed hashes that let reports and logs refer to people and values without naming them."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def pseudonym(secret: bytes, name: str, reference: str | None = None) -> str:
    """A stable pseudonym for a data subject, e.g. ``S-3f9a1c0b7d22``.

    Keyed with the deployment secret so nobody without it can test a guessed name.
    """
    msg = f"{_norm(name)}\x1f{_norm(reference or '')}".encode()
    return "S-" + hmac.new(secret, msg, hashlib.sha256).hexdigest()[:12]


def value_hash(secret: bytes, request_id: str, value: str) -> str:
    """Salted hash of one private value; the salt is per request so equal values in two
    requests do not link them."""
    salt = hmac.new(secret, request_id.encode(), hashlib.sha256).digest()
    return hashlib.sha256(salt + _norm(value).encode()).hexdigest()
