"""The application log: ``RELEARN_HOME/logs/relearn-tui.log``.

Only ids, states, counts and timings are logged, never a name or a fact: the log is kept
after a request is purged.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOGGER = "relearn_tui"


def setup_logging(home: Path) -> Path:
    path = home / "logs" / "relearn-tui.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(h, RotatingFileHandler) and Path(h.baseFilename) == path
               for h in logger.handlers):
        handler = RotatingFileHandler(path, maxBytes=5 * 2**20, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return path


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER}.{name}")
