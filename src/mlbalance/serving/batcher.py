"""Micro-batching: texts of requests that arrive together are scored in one call of the model.

Each request puts its texts on a queue and awaits a future. One task takes the first waiting request
with every request already waiting — and, with ``max_wait_s > 0``, those arriving within that time —
up to ``max_batch`` texts, scores them all in one call on a worker thread and hands each request its
results. While a batch is scored the next one fills, so under many concurrent clients throughput
approaches the model's batch rate without any wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class _Job:
    texts: Sequence[str]
    future: asyncio.Future[list[Any]] = field(repr=False)


class MicroBatcher:
    """Score texts of concurrent callers in shared batches.

    Args:
        score: the model's scoring function, texts → one result per text (a list); called on one
            worker thread, never concurrently.
        max_batch: most texts in one call (a single larger request is scored alone).
        max_wait_s: longest a request waits for others before its batch is scored.
    """

    def __init__(self, score: Callable[[list[str]], list[Any]], *, max_batch: int, max_wait_s: float):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
        self._score = score
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._carry: _Job | None = None  # the job that did not fit the last batch: first of the next

    async def start(self) -> None:
        """Start the batching task (in the running event loop)."""
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlbalance-score")
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the batching task; requests still waiting get an error."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._queue is not None:
            waiting = [self._carry] if self._carry is not None else []
            while not self._queue.empty():
                waiting.append(self._queue.get_nowait())
            for job in waiting:
                if not job.future.done():
                    job.future.set_exception(RuntimeError("the server is shutting down"))
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(self, texts: Sequence[str]) -> list[Any]:
        """The results of ``texts`` (one per text), scored together with other requests' texts."""
        if self._queue is None:
            raise RuntimeError("MicroBatcher.start() was not called")
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(texts, future))
        return await future

    async def _gather(self) -> list[_Job]:
        """The first waiting job and those that join it within ``max_wait_s`` (up to ``max_batch`` texts)."""
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        first, self._carry = self._carry, None
        jobs = [first if first is not None else await self._queue.get()]
        count = len(jobs[0].texts)
        deadline = loop.time() + self.max_wait_s
        while count < self.max_batch:
            if not self._queue.empty():
                job = self._queue.get_nowait()
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
                    break
            if count + len(job.texts) > self.max_batch:
                self._carry = job
                break
            jobs.append(job)
            count += len(job.texts)
        return jobs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [job for job in await self._gather() if not job.future.cancelled()]
            if not jobs:
                continue
            texts = [text for job in jobs for text in job.texts]
            try:
                results = await loop.run_in_executor(self._executor, self._score, texts)
            except Exception as exc:  # the callers' requests fail, the server keeps serving
                log.exception("scoring a batch of %d texts failed", len(texts))
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            start = 0
            for job in jobs:
                stop = start + len(job.texts)
                if not job.future.done():
                    job.future.set_result(results[start:stop])
                start = stop
