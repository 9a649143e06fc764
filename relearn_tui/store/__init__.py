"""Storage: SQLModel tables and the migrated database (no textual import here)."""

from relearn_tui.store.db import Store, StoreBusy, StoreError
from relearn_tui.store.models import AuditResult, ChainHead, Event, Fact, Request, Run, Variant

__all__ = ["AuditResult", "ChainHead", "Event", "Fact", "Request", "Run", "Store", "StoreBusy",
           "StoreError", "Variant"]
