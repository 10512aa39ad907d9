"""``mlbalance serve``: serve a trained run over HTTP (REST API and a web page).

Answer POST /v1/predict with the labels of RUN_DIR's model; GET /v1/labels, /v1/model, /health; a
page for people at / and the API documentation at /docs. Needs mlbalance[serve].

Needs the optional extra ``mlbalance[serve]``. The endpoints are described in
:mod:`mlbalance.serving.app`; the OpenAPI documentation is at ``/docs`` of the running server.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys

from mlbalance.cli._common import add_command
from mlbalance.errors import DataError

#: The server's numeric settings: flag, type, default, help.
SERVER_FLAGS: tuple[tuple[str, type, float, str], ...] = (
    ("--port", int, 8000, "port to listen on"),
    ("--workers", int, 1, "server processes, each with its own copy of the model"),
    ("--max-batch", int, 256, "most texts per request, and per scoring batch"),
    ("--max-text-bytes", int, 100_000, "longest text in UTF-8 bytes"),
    ("--max-wait-ms", float, 0.0, "how long an idle scorer waits for more requests to batch (requests "
     "arriving while a batch is scored are batched anyway)"),
)  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "serve", __doc__)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (or an exported model folder)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    for flag, kind, default, text in SERVER_FLAGS:
        parser.add_argument(flag, type=kind, default=default, help=f"{text} (default: {default:g})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlbalance.runs import load_run

    for flag, value, low in (
        ("--port", args.port, 0),
        ("--workers", args.workers, 1),
        ("--max-batch", args.max_batch, 1),
        ("--max-text-bytes", args.max_text_bytes, 1),
    ):
        if value < low:
            raise DataError(f"{flag} must be >= {low}, got {value}")
    if not args.max_wait_ms >= 0:
        raise DataError(f"--max-wait-ms must be >= 0, got {args.max_wait_ms}")
    from mlbalance._extras import require_extra

    require_extra("serve", "`mlbalance serve`")
    import uvicorn

    from mlbalance.serving.app import SETTINGS_ENV, create_app

    _check_port(args.host, args.port)
    run_ = load_run(args.run_dir)  # a model that cannot load stops here, before the server starts
    settings = {
        "max_batch": args.max_batch,
        "max_text_bytes": args.max_text_bytes,
        "max_wait_ms": args.max_wait_ms,
    }
    print(
        f"serving {args.run_dir} ({run_.model.name}, {len(run_.labels)} labels) at "
        f"http://{args.host}:{args.port}/ — API documentation at /docs",
        file=sys.stderr,
    )
    if args.workers == 1:
        uvicorn.run(create_app(run_, **settings), host=args.host, port=args.port, log_level="warning")
    else:
        os.environ[SETTINGS_ENV] = json.dumps({"run_dir": str(args.run_dir), **settings})
        uvicorn.run(
            "mlbalance.serving.app:app_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
        )
    return 0


def _check_port(host: str, port: int) -> None:
    """A one-line error now, rather than uvicorn's log, when ``host:port`` cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DataError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
