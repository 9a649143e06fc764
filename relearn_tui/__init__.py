"""relearn-tui: make a fine-tuned LLM forget a data subject, prove it, file the evidence."""

__version__ = "0.1.0"
