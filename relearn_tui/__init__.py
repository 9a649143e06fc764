"""relearn-tui: make a fine-tuned LLM forget a data subject, prove it, file the evidence."""

import os

# The libraries' own tqdm bars (GGUF conversion, weight loading, dataset maps) would scribble
# over our progress display and the TUI. tqdm reads this once, when it is first imported, and
# torch imports it while the command's modules load, so it is set here, before any of them.
os.environ.setdefault("TQDM_DISABLE", "1")

__version__ = "0.1.0"
