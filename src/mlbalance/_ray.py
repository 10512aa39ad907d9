"""A Ray session for the commands that fan out over Ray (batch prediction, tune's Ray engine)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Ray, connected for the block: a local instance (``address`` None) or the cluster at ``address``;
    one already started by the caller is used as it is and left running."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.getLogger("ray").level or logging.WARNING,  # a caller's setting holds
        )
    try:
        yield
    finally:
        if started:
            ray.shutdown()
