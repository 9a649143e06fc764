"""Typed messages that thread workers post to the app (``post_message`` is thread-safe)."""

from __future__ import annotations

from textual.message import Message

from engine.progress import Progress


class JobProgress(Message):
    """A background job (import, augmentation, export, probe) moved on."""

    def __init__(self, job: str, progress: Progress) -> None:
        super().__init__()
        self.job = job
        self.progress = progress


class RunStarted(Message):
    """An unlearning run was created (or picked up again) and is about to execute."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id


class RunProgress(Message):
    """One progress event of the live unlearning run."""

    def __init__(self, run_id: str, progress: Progress) -> None:
        super().__init__()
        self.run_id = run_id
        self.progress = progress


class DataChanged(Message):
    """A worker stored something the screens show."""


class OpenRequest(Message):
    """A screen asks for a request's detail to be shown."""

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id


class OpenReview(Message):
    """A screen asks for the Review screen on a request."""

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id


class OpenAudit(Message):
    """A screen asks for the Audit screen on a run."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
