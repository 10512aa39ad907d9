"""The HTTP application serving one trained run (FastAPI).

Endpoints:

- ``POST /v1/predict`` — ``{"text": "..."}``, ``{"texts": [...]}`` or ``{"documents": [{"id", "text"}]}``,
  with optional ``top_k`` (at most this many labels, highest scores first), ``threshold`` (one threshold
  for every label instead of the tuned ones, in the model's score units) and ``scores`` (true: each
  answer carries the scores ``mlbalance predict`` writes). Answers
  ``{"predictions": [{"labels": [...]}, ...]}`` in request order; without ``top_k`` and ``threshold``
  the labels are those ``mlbalance predict`` gives.
- ``GET /v1/labels`` — every label with its training count, group and threshold.
- ``GET /v1/model`` — the run's configuration, label statistics, thresholds, metrics and model card.
- ``GET /health`` — ``{"status": "ok"}``.
- ``GET /`` — a page for people: paste a text, see its labels; ``/docs`` — the OpenAPI documentation.

Bad requests get a clear answer: wrong JSON or types → 422 naming the field, a batch over ``max_batch``
texts or a text over ``max_text_bytes`` bytes → 413, an unknown path → 404.
"""

from __future__ import annotations

import gc
import json
import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlbalance.predictions import prediction_records
from mlbalance.serving.batcher import MicroBatcher

if TYPE_CHECKING:
    from mlbalance.runs import Run

#: Environment variable through which ``mlbalance serve --workers N`` hands its settings to each worker.
SETTINGS_ENV = "MLBALANCE_SERVE_SETTINGS"

DEFAULT_MAX_BATCH = 256
DEFAULT_MAX_TEXT_BYTES = 100_000
DEFAULT_MAX_WAIT_MS = 0.0
#: Scores reported per document with ``"scores": true`` and no ``top_k`` (as ``mlbalance predict``).
DEFAULT_TOP_SCORES = 5


class Document(BaseModel):
    """One document of a batch: an optional id (echoed back) and its text."""

    model_config = ConfigDict(extra="forbid", strict=True)
    id: str | int | None = None
    text: str


class PredictRequest(BaseModel):
    """The body of ``POST /v1/predict``: exactly one of ``text``, ``texts`` or ``documents``."""

    model_config = ConfigDict(extra="forbid", strict=True)
    text: str | None = None
    texts: list[str] | None = None
    documents: list[Document] | None = None
    top_k: int | None = Field(default=None, ge=1, description="at most this many labels per document")
    threshold: float | None = Field(
        default=None, allow_inf_nan=False, description="one threshold for every label (the model's units)"
    )
    scores: bool = Field(default=False, description="include the scores `mlbalance predict` reports")

    @model_validator(mode="after")
    def _one_input(self) -> PredictRequest:
        given = [name for name in ("text", "texts", "documents") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'text', 'texts' or 'documents'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def items(self) -> tuple[list[str | None], list[str]]:
        """``(ids, texts)``: ids are None for ``text``/``texts``."""
        if self.documents is not None:
            return [None if d.id is None else str(d.id) for d in self.documents], [
                d.text for d in self.documents
            ]
        texts = [self.text] if self.text is not None else list(self.texts or [])
        return [None] * len(texts), texts


class BodyLimit:
    """ASGI middleware: a request whose ``Content-Length`` is over ``max_bytes`` gets 413 unread."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length", b"")
            if length.isdigit() and int(length) > self.max_bytes:
                detail = (
                    f"the request body of {int(length)} bytes is over the limit of {self.max_bytes} bytes"
                )
                await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    run: Run,
    *,
    max_batch: int = DEFAULT_MAX_BATCH,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    max_wait_ms: float = DEFAULT_MAX_WAIT_MS,
) -> FastAPI:
    """The application serving ``run`` (a loaded :class:`~mlbalance.runs.Run`).

    Args:
        run: the run to serve.
        max_batch: most texts in one request (more → 413); also the largest scoring batch.
        max_text_bytes: longest text in UTF-8 bytes (longer → 413).
        max_wait_ms: how long an idle scorer waits for more requests before scoring (0: none; requests
            that arrive while a batch is scored are batched anyway).
    """
    from mlbalance.evaluation import Thresholds
    from mlbalance.export import model_card

    if max_batch < 1 or max_text_bytes < 1 or not (max_wait_ms >= 0):
        raise ValueError(
            f"max_batch and max_text_bytes must be >= 1 and max_wait_ms >= 0, got {max_batch}, "
            f"{max_text_bytes}, {max_wait_ms}"
        )
    names = run.labels
    column = {name: i for i, name in enumerate(names)}

    def score_batch(texts: list[str]) -> list[tuple[np.ndarray, list[str]]]:
        """Each text's score row and its labels under the run's thresholds (one call per batch)."""
        scores = run.scores(texts)
        return list(zip(scores, run.label_space.decode(run.thresholds.predict(scores))))

    batcher = MicroBatcher(score_batch, max_batch=max_batch, max_wait_s=max_wait_ms / 1000)
    max_body_bytes = max_batch * (max_text_bytes + 512) + 65_536

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The model's many long-lived objects (vocabulary, label maps) leave the garbage collector's
        # view: full collections over them were what made the slowest 1% of requests ~10x slower.
        gc.collect()
        gc.freeze()
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="mlbalance",
        summary=f"Multi-label predictions of a {run.model.name} model over {len(names)} labels",
        lifespan=lifespan,
    )

    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(resources.files("mlbalance.serving").joinpath("page.html").read_text("utf-8"))

    labels_answer = {"labels": label_table(run)}

    @app.get("/v1/labels")
    async def labels() -> JSONResponse:
        return JSONResponse(labels_answer)

    stored = _stored_config(run)
    model_answer = {
        "kind": run.model.name,
        "score_kind": run.model.score_kind,
        "n_labels": len(names),
        "run": run.config,
        "model_config": stored.get("model", {}).get("config"),
        "mlbalance_version": stored.get("mlbalance_version"),
        "thresholds": run.thresholds.to_dict(),
        "label_stats": run.stats.to_dict(),
        "metrics": run.metrics,
        "limits": {"max_batch": max_batch, "max_text_bytes": max_text_bytes, "max_wait_ms": max_wait_ms},
        "card": model_card(run),
    }
    model_answer = json.loads(json.dumps(model_answer, default=_json_default))

    @app.get("/v1/model")
    async def model() -> JSONResponse:
        return JSONResponse(model_answer)

    @app.post("/v1/predict")
    async def predict(body: PredictRequest) -> JSONResponse:
        ids, texts = body.items()
        if len(texts) > max_batch:
            raise HTTPException(
                413,
                f"a batch of {len(texts)} texts is over the server's limit of {max_batch} (max_batch)",
            )
        for i, text in enumerate(texts):
            size = len(text.encode("utf-8"))
            if size > max_text_bytes:
                where = "text" if body.text is not None else f"text {i}"
                raise HTTPException(
                    413,
                    f"{where} has {size} bytes, over the server's limit of {max_text_bytes} (max_text_bytes)",
                )
        if not texts:
            return JSONResponse({"predictions": []})
        rows = await batcher.submit(texts)
        scores = np.stack([row for row, _ in rows])
        predicted = [labels for _, labels in rows]
        if body.threshold is not None:
            fixed = Thresholds(method="fixed", value=body.threshold, score_kind=run.model.score_kind)
            predicted = run.label_space.decode(fixed.predict(scores))
        if body.top_k is not None:
            predicted = [
                sorted(doc, key=lambda name, row=row: -row[column[name]])[: body.top_k]
                for doc, row in zip(predicted, scores)
            ]
        return JSONResponse({"predictions": _answers(ids, predicted, scores, names, body)})

    return app


def _answers(
    ids: list[str | None],
    predicted: list[list[str]],
    scores: np.ndarray,
    names: tuple[str, ...],
    body: PredictRequest,
) -> list[dict[str, Any]]:
    if not body.scores:
        return [
            {"labels": labels} if doc_id is None else {"id": doc_id, "labels": labels}
            for doc_id, labels in zip(ids, predicted)
        ]
    top = body.top_k if body.top_k is not None else DEFAULT_TOP_SCORES
    records = prediction_records([i or "" for i in ids], predicted, scores, names, top, all_scores=False)
    answers = []
    for doc_id, record in zip(ids, records):
        if doc_id is None:
            del record["id"]
        answers.append(record)
    return answers


def label_table(run: Run) -> list[dict[str, Any]]:
    """Each label: name, training documents, group (head/medium/tail) and threshold (None for top-k)."""
    stats, thresholds = run.stats, run.thresholds
    group = [""] * stats.n_labels
    for name, indices in stats.group_indices().items():
        for i in indices:
            group[int(i)] = name
    if thresholds.per_label is not None:
        per_label = [float(t) for t in thresholds.per_label]
    else:
        per_label = [thresholds.value] * stats.n_labels
    return [
        {"name": name, "train_docs": int(count), "group": group[i], "threshold": per_label[i]}
        for i, (name, count) in enumerate(zip(stats.names, stats.class_freq))
    ]


def _stored_config(run: Run) -> dict[str, Any]:
    from mlbalance.runs import read_config

    return read_config(run.directory) if run.directory is not None else {}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def app_from_environment() -> FastAPI:
    """The application described by :data:`SETTINGS_ENV` (what each ``serve --workers N`` process builds)."""
    from mlbalance.runs import load_run

    settings = json.loads(os.environ[SETTINGS_ENV])
    run = load_run(settings.pop("run_dir"))
    return create_app(run, **settings)
