"""Serving and batch-prediction speed: in-process, over HTTP, latency under concurrent clients, Ray.

For each run given: documents per second of in-process batch scoring (``Run.predict_with_scores``) and of
``POST /v1/predict`` with batches of ``--http-batch`` texts over one keep-alive connection; then p50 / p99
latency and throughput of single-text requests from 1, 8 and 32 concurrent clients (asyncio + httpx,
closed loop). Every text sent is made unique (an index is prepended), so no cache of an earlier run
answers for the model. With ``--ray-docs N``: ``mlbalance predict`` against ``predict --engine ray``
(a local instance) on N documents, wall time of each command and whether the outputs are identical.

Example (the BENCHMARKS.md table)::

    python benchmarks/serve.py --run tfidf=runs/tfidf --run svm=runs/svm --run embedding=runs/embedding \\
        --data ../shared/data/reuters21578.tar.gz --ray-run runs/tfidf --ray-docs 100000 --out serve.json
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from mlbalance import load_run
from mlbalance.data import load_corpus


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, run_dir: str, max_batch: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlbalance",
                "serve",
                run_dir,
                "--port",
                str(self.port),
                "--max-batch",
                str(max_batch),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class Texts:
    """Unique texts: the corpus's, cycled, each prefixed with a running index."""

    def __init__(self, base: list[str]) -> None:
        self.base, self.count = base, 0

    def take(self, n: int) -> list[str]:
        out = [f"{self.count + i} {self.base[(self.count + i) % len(self.base)]}" for i in range(n)]
        self.count += n
        return out


def in_process(run_dir: str, texts: Texts, n_docs: int, batch: int, repeats: int) -> float:
    run = load_run(run_dir)
    run.predict_with_scores(texts.take(min(batch, 64)))  # warm-up
    rates = []
    for _ in range(repeats):
        docs = texts.take(n_docs)
        start = time.perf_counter()
        for i in range(0, n_docs, batch):
            run.predict_with_scores(docs[i : i + batch])
        rates.append(n_docs / (time.perf_counter() - start))
    return statistics.median(rates)


def http_batches(url: str, texts: Texts, n_docs: int, batch: int, repeats: int) -> float:
    rates = []
    with httpx.Client(base_url=url, timeout=600) as client:
        client.post("/v1/predict", json={"texts": texts.take(batch)}).raise_for_status()  # warm-up
        for _ in range(repeats):
            docs = texts.take(n_docs)
            start = time.perf_counter()
            for i in range(0, n_docs, batch):
                client.post("/v1/predict", json={"texts": docs[i : i + batch]}).raise_for_status()
            rates.append(n_docs / (time.perf_counter() - start))
    return statistics.median(rates)


async def _clients(url: str, texts: Texts, clients: int, per_client: int) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def one(docs: list[str]) -> None:
            nonlocal errors
            for text in docs:
                start = time.perf_counter()
                response = await client.post("/v1/predict", json={"text": text})
                latencies.append(time.perf_counter() - start)
                errors += response.status_code != 200

        await asyncio.gather(*(one(texts.take(2)) for _ in range(clients)))  # connections and warm-up
        latencies.clear()
        start = time.perf_counter()
        await asyncio.gather(*(one(texts.take(per_client)) for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return latencies, elapsed, errors


WRK_SCRIPT = """
texts = {%s}
local counter, threads = 0, 0
function setup(thread)
  threads = threads + 1
  thread:set("prefix", threads)
end
function request()
  counter = counter + 1
  local text = texts[(counter %% #texts) + 1]
  local body = '{"text": "w' .. prefix .. '-' .. counter .. ' ' .. text .. '"}'
  return wrk.format("POST", "/v1/predict", {["Content-Type"] = "application/json"}, body)
end
"""


def latency_wrk(url: str, base: list[str], clients: int, seconds: int) -> dict[str, float]:
    """Single-text requests from ``clients`` connections for ``seconds`` with wrk (a C load generator)."""
    import re

    escaped = ",".join("[==[" + json.dumps(text, ensure_ascii=False)[1:-1] + "]==]" for text in base[:500])
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, encoding="utf-8") as script:
        script.write(WRK_SCRIPT % escaped)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", script.name, url],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)

    def ms(q: str) -> float:
        value, unit = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)$", out, re.M).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: (.*)", out)
    return {
        "clients": clients,
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "errors": (int(bad.group(1)) if bad else 0) + (1 if sockets else 0),
        "client": "wrk",
    }


def latency(url: str, texts: Texts, clients: int, per_client: int) -> dict[str, float]:
    """Single-text requests from ``clients`` asyncio clients (httpx), ``per_client`` each."""
    latencies, elapsed, errors = asyncio.run(_clients(url, texts, clients, per_client))
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "clients": clients,
        "requests": len(ordered),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "requests_per_s": len(ordered) / elapsed,
        "errors": errors,
        "client": "httpx",
    }


def ray_against_local(run_dir: str, base: list[str], n_docs: int, workdir: Path) -> dict[str, object]:
    docs = workdir / "docs.jsonl"
    with docs.open("w", encoding="utf-8") as handle:
        for i in range(n_docs):
            handle.write(json.dumps({"id": f"d{i}", "text": base[i % len(base)]}, ensure_ascii=False) + "\n")
    result: dict[str, object] = {"docs": n_docs, "input_mb": docs.stat().st_size / 2**20}
    digests = {}
    for engine in ("local", "ray"):
        out = workdir / f"{engine}.jsonl"
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mlbalance",
                "predict",
                run_dir,
                "--input",
                str(docs),
                "--output",
                str(out),
                "--engine",
                engine,
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        result[f"{engine}_seconds"] = time.perf_counter() - start
        digests[engine] = hashlib.sha256(out.read_bytes()).hexdigest()
    result["identical"] = digests["local"] == digests["ray"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", action="append", default=[], metavar="NAME=RUN_DIR", help="a run to measure")
    parser.add_argument("--dataset", default="reuters21578")
    parser.add_argument("--data", help="the dataset's file (Reuters archive)")
    parser.add_argument("--docs", type=int, default=3000, help="documents per throughput measurement")
    parser.add_argument("--http-batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=50, help="single-text requests per client (httpx)")
    parser.add_argument("--seconds", type=int, default=8, help="seconds per concurrency level (wrk)")
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "httpx"),
        default="auto",
        help="load generator (auto: wrk if found)",
    )
    parser.add_argument("--slow", default="embedding", help="runs measured on a tenth of the documents")
    parser.add_argument("--ray-run", help="the run of the Ray comparison")
    parser.add_argument("--ray-docs", type=int, default=0)
    parser.add_argument("--out", type=Path, help="JSON results")
    args = parser.parse_args()

    base = list(load_corpus(args.dataset, data=args.data).test.texts)
    slow = set(args.slow.split(","))
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "httpx")
    results: dict[str, object] = {"load_before": os.getloadavg(), "models": {}}
    for spec in args.run:
        name, run_dir = spec.split("=", 1)
        scale = 10 if name in slow else 1
        n_docs, per_client = args.docs // scale, max(5, args.requests // scale)
        texts = Texts(base)
        row: dict[str, object] = {
            "in_process_docs_per_s": in_process(run_dir, texts, n_docs, args.http_batch, args.repeats)
        }
        server = Server(run_dir, args.http_batch)
        try:
            row["http_batch_docs_per_s"] = http_batches(
                server.url, texts, n_docs, args.http_batch, args.repeats
            )
            if client == "wrk":
                row["latency"] = [latency_wrk(server.url, base, c, args.seconds) for c in (1, 8, 32)]
            else:
                row["latency"] = [latency(server.url, texts, c, per_client) for c in (1, 8, 32)]
        finally:
            server.stop()
        results["models"][name] = row  # type: ignore[index]
        print(name, json.dumps(row), file=sys.stderr, flush=True)
    if args.ray_docs:
        with tempfile.TemporaryDirectory() as workdir:
            results["ray"] = ray_against_local(args.ray_run, base, args.ray_docs, Path(workdir))
        print("ray", json.dumps(results["ray"]), file=sys.stderr, flush=True)
    results["load_after"] = os.getloadavg()
    print_tables(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


def print_tables(results: dict) -> None:
    print(
        "| model | in-process docs/s | HTTP batch docs/s | clients | p50 ms | p99 ms | requests/s | errors |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, row in results["models"].items():
        for i, lat in enumerate(row["latency"]):
            first = (
                (name, f"{row['in_process_docs_per_s']:.0f}", f"{row['http_batch_docs_per_s']:.0f}")
                if i == 0
                else ("", "", "")
            )
            print(
                f"| {' | '.join(first)} | {lat['clients']} | {lat['p50_ms']:.1f} | {lat['p99_ms']:.1f} | "
                f"{lat['requests_per_s']:.0f} | {lat['errors']} |"
            )
    if "ray" in results:
        r = results["ray"]
        print(
            f"\nRay: {r['docs']} documents ({r['input_mb']:.0f} MB): predict {r['local_seconds']:.1f} s, "
            f"--engine ray {r['ray_seconds']:.1f} s; outputs identical: {r['identical']}"
        )
    clients = {lat.get("client") for row in results["models"].values() for lat in row["latency"]}
    print(f"\nsingle-text requests sent by: {', '.join(sorted(clients))}")
    print(f"\nload average before {results['load_before']}, after {results['load_after']}")


if __name__ == "__main__":
    main()
