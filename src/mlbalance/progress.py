"""Progress reports of long work: the callback protocol the library calls and the CLI draws."""

from __future__ import annotations

from typing import Any, Protocol


class ProgressCallback(Protocol):
    """Told about long work; the CLI turns the calls into progress bars.

    ``stage`` names the work (``"epoch 3"``, ``"featurise"``, ``"score"``), ``done`` and ``total``
    count its steps (``total`` may be None), ``info`` carries e.g. the running loss.
    """

    def __call__(self, stage: str, done: int, total: int | None, **info: Any) -> None: ...


def no_progress(stage: str, done: int, total: int | None, **info: Any) -> None:
    """A :class:`ProgressCallback` that does nothing."""


__all__ = ["ProgressCallback", "no_progress"]
