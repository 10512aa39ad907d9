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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "serve", __doc__)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (or an exported model folder)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes, each with its own copy of the model"
    )
    parser.add_argument(
        "--max-batch",
        type=int,
        default=256,
        help="most texts per request, and per scoring batch (default: 256)",
    )
    parser.add_argument(
        "--max-text-bytes", type=int, default=100_000, help="longest text in UTF-8 bytes (default: 100000)"
    )
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        default=0.0,
        help=(
            "how long an idle scorer waits for more requests to batch (default: 0; requests arriving "
            "while a batch is scored are batched anyway)"
        ),
    )
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
