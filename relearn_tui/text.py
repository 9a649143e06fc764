"""Characters that must not reach a terminal, a one-line message or a report.

A name, ground, reason or operator name is printed in tables, the event log and the reports:
a newline there forges report lines, an ANSI escape rewrites the terminal, a bidi override
(U+202E) makes text read backwards, a zero-width character makes two names look equal. Such
characters are refused in those fields, and escaped wherever text from outside is echoed.
"""

from __future__ import annotations

import unicodedata

# Cc: C0 and C1 controls (TAB, CR, LF, ESC included); Cf: format characters (bidi overrides and
# isolates, zero-width spaces and joiners, the BOM, soft hyphen); Zl/Zp: U+2028 and U+2029;
# Cs: lone surrogates (a file name that is not UTF-8); Co/Cn: private use and unassigned.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def unsafe_char(text: str) -> str | None:
    """The first character of ``text`` that is not plain printable text, as ``U+XXXX``."""
    for ch in text:
        if unicodedata.category(ch) in UNSAFE_CATEGORIES:
            return f"U+{ord(ch):04X}"
    return None


def printable(text: str) -> str:
    """``text`` with every unsafe or non-printable character escaped (``\\n``, ``\\x1b``,
    ``\\u202e``, a lone surrogate as ``\\udcff``): safe for a one-line message and a
    terminal."""
    return "".join(ch if ch.isprintable() and unicodedata.category(ch) not in UNSAFE_CATEGORIES
                   else ascii(ch)[1:-1] for ch in text)
