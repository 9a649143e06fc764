"""The database tables. Columns marked *private* hold personal data and are purged
(set to NULL) once a request is verified and reported; everything else may be kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel


class Request(SQLModel, table=True):
    __tablename__ = "request"

    id: str = Field(primary_key=True, max_length=64)
    subject_name: str | None = Field(default=None)  # private
    subject_reference: str | None = Field(default=None)  # private
    subject_pseudonym: str = Field(index=True, max_length=64)
    ground: str | None = Field(default=None, max_length=64)
    state: str = Field(index=True, max_length=32)
    received_at: datetime
    extension_months: int = 0
    content_hash: str = Field(max_length=64)
    source: str | None = Field(default=None)  # private: the request file's name
    created_at: datetime
    updated_at: datetime
    purged_at: datetime | None = None


class Fact(SQLModel, table=True):
    __tablename__ = "fact"
    __table_args__ = (Index("ix_fact_request_position", "request_id", "position", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="request.id", index=True, max_length=64)
    position: int
    question: str | None = None  # private
    answer: str | None = None  # private
    # [{"category": ..., "value": ...}] - private; categories survive in value_hashes
    private_values: list | None = Field(default=None, sa_column=Column(JSON))
    # [{"category": ..., "hash": salted sha256}] - kept after purge as evidence
    value_hashes: list | None = Field(default=None, sa_column=Column(JSON))
    category: str | None = Field(default=None, max_length=64)


class Variant(SQLModel, table=True):
    __tablename__ = "variant"

    id: int | None = Field(default=None, primary_key=True)
    fact_id: int = Field(foreign_key="fact.id", index=True)
    request_id: str = Field(foreign_key="request.id", index=True, max_length=64)
    kind: str = Field(max_length=32)
    question: str | None = None  # private (may name the subject or a value)
    answer: str | None = None  # private
    backend: str = Field(max_length=64)
    seed: int
    held_out: bool = False
    verified_ok: bool = True
    verification_reasons: list | None = Field(default=None, sa_column=Column(JSON))
    attempts: int = 1
    status: str = Field(default="pending", max_length=16)  # pending | approved | rejected
    edited: bool = False
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    created_at: datetime


class Run(SQLModel, table=True):
    __tablename__ = "run"

    id: str = Field(primary_key=True, max_length=64)
    method: str = Field(max_length=32)
    state: str = Field(index=True, max_length=16)  # queued|running|completed|failed|canceled
    config: dict | None = Field(default=None, sa_column=Column(JSON))
    request_ids: list | None = Field(default=None, sa_column=Column(JSON))
    operator: str | None = None
    out_dir: str | None = None
    base_model: str | None = None
    base_sha256: str | None = Field(default=None, max_length=64)
    subject_sha256: str | None = Field(default=None, max_length=64)
    adapter_sha256: str | None = Field(default=None, max_length=64)
    merged_sha256: str | None = Field(default=None, max_length=64)
    record: dict | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class AuditResult(SQLModel, table=True):
    __tablename__ = "audit_result"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True, max_length=64)
    request_id: str | None = Field(default=None, foreign_key="request.id", index=True)
    phase: str = Field(max_length=16)  # before | after
    figures: dict | None = Field(default=None, sa_column=Column(JSON))
    passed: bool | None = None
    reasons: list | None = Field(default=None, sa_column=Column(JSON))
    # generated answers of failed probes: may echo private values, so purged like the facts
    probe_records: list | None = Field(default=None, sa_column=Column(JSON))  # private
    created_at: datetime


class Event(SQLModel, table=True):
    """One link of the hash-chained event log. Rows are only ever appended."""

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str | None = Field(default=None, index=True, max_length=64)
    at: datetime
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str | None = Field(default=None, max_length=32)
    detail: dict | None = Field(default=None, sa_column=Column(JSON))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    # 1: sha256 chain (events written before 0002); 2: HMAC with the deployment secret
    chain_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # version 2: the request's state, extension and a keyed digest of its data after the event
    covers: dict | None = Field(default=None, sa_column=Column(JSON))


class ChainHead(SQLModel, table=True):
    """The single row holding the newest event hash; locking it serialises appends."""

    __tablename__ = "chain_head"

    id: int = Field(default=1, primary_key=True)
    last_event_id: int = 0
    hash: str = Field(max_length=64)
