"""Speed and memory of the data layer; prints a Markdown table for BENCHMARKS.md.

Each case runs in its own Python process, so its peak RSS (``ru_maxrss``) is its own. Times are wall
clock and process CPU time; on a shared, loaded machine the CPU time is the steadier figure.

* ``reuters``: parse the Reuters-21578 archive and make the paper's split (median of ``--repeats``);
* ``pubmed-like``: generate the 224,897-document synthetic corpus and summarise it (Table 1, groups,
  label statistics);
* ``bioasq-stream``: stream every article of BioASQ-format files of two sizes (``--small-gb`` and
  ``--bioasq-gb``, generated under ``--workdir`` first): flat memory means equal peak RSS;
* ``bioasq-load``: :func:`load_bioasq` on the large file with the paper's 2020–2021 filter.

Usage::

    python benchmarks/data.py --reuters ../shared/data/reuters21578.tar.gz --bioasq-gb 1.0
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case_reuters(args: argparse.Namespace) -> dict:
    from mlbalance.data import load_corpus

    times, cpu = [], []
    for _ in range(args.repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        corpus = load_corpus("reuters21578", data=args.reuters)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    sizes = (len(corpus.train), len(corpus.validation), len(corpus.test), len(corpus.label_space))
    return {
        "seconds": statistics.median(times),
        "cpu_seconds": statistics.median(cpu),
        "all_seconds": times,
        "sizes": sizes,
        "peak_rss_mb": _rss_mb(),
    }


def case_pubmed_like(args: argparse.Namespace) -> dict:
    from mlbalance.data import load_corpus
    from mlbalance.data.stats import summary

    start, start_cpu = time.perf_counter(), time.process_time()
    corpus = load_corpus("synthetic:pubmed-like")
    generated = time.perf_counter()
    row = summary(corpus)
    done = time.perf_counter()
    return {
        "seconds": done - start,
        "cpu_seconds": time.process_time() - start_cpu,
        "generate_seconds": generated - start,
        "summarise_seconds": done - generated,
        "summary": row,
        "peak_rss_mb": _rss_mb(),
    }


def case_write(args: argparse.Namespace) -> dict:
    from mlbalance.data.synthetic import write_bioasq_file

    target = int(args.gb * 1e9)
    per_article = 1900  # bytes per article with words=200, measured on a small file
    start = time.perf_counter()
    size = write_bioasq_file(args.path, max(1, target // per_article), n_labels=20_000, seed=1)
    return {"seconds": time.perf_counter() - start, "bytes": size, "peak_rss_mb": _rss_mb()}


def case_stream(args: argparse.Namespace) -> dict:
    from mlbalance.data.bioasq import iter_articles

    base = _rss_mb()
    start, start_cpu = time.perf_counter(), time.process_time()
    n = sum(1 for _ in iter_articles(args.path))
    seconds = time.perf_counter() - start
    size = Path(args.path).stat().st_size
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - start_cpu,
        "articles": n,
        "bytes": size,
        "mb_per_s": size / 1e6 / seconds,
        "rss_before_mb": base,
        "peak_rss_mb": _rss_mb(),
    }


def case_load(args: argparse.Namespace) -> dict:
    from mlbalance.data.bioasq import load_bioasq

    # The paper holds out 10,000 articles; a small trial file holds out a tenth instead.
    held_out = 10_000 if args.gb >= 0.5 else 0.1
    start, start_cpu = time.perf_counter(), time.process_time()
    corpus = load_bioasq(args.path, held_out=held_out)
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - start_cpu,
        "kept": corpus.metadata["kept"],
        "articles": corpus.metadata["articles"],
        "labels": len(corpus.label_space),
        "peak_rss_mb": _rss_mb(),
    }


CASES = {
    "reuters": case_reuters,
    "pubmed-like": case_pubmed_like,
    "write": case_write,
    "stream": case_stream,
    "load": case_load,
}


def run_case(name: str, **options: object) -> dict:
    argv = [sys.executable, __file__, "--case", name]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"case {name} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--gb", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--reuters", default="../shared/data/reuters21578.tar.gz")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bioasq-gb", type=float, default=1.0, help="size of the large BioASQ-format file")
    parser.add_argument("--small-gb", type=float, default=0.1, help="size of the small BioASQ-format file")
    parser.add_argument("--workdir", default="/tmp/mlbalance-bench", help="where the generated files go")
    parser.add_argument("--skip", action="append", default=[], choices=("reuters", "pubmed-like", "bioasq"))
    parser.add_argument("--keep-files", action="store_true", help="keep the generated BioASQ files")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(CASES[args.case](args), default=str))
        return

    rows = []
    if "reuters" not in args.skip:
        r = run_case("reuters", reuters=args.reuters, repeats=args.repeats)
        rows.append(
            (
                f"Reuters-21578 parsed + split (median of {args.repeats})",
                f"{r['seconds']:.2f} s / {r['cpu_seconds']:.2f} s",
                f"{r['peak_rss_mb']:.0f} MiB",
                "train/val/test/labels = {}/{}/{}/{}".format(*r["sizes"]),
            )
        )
    if "pubmed-like" not in args.skip:
        r = run_case("pubmed-like")
        s = r["summary"]
        rows.append(
            (
                "synthetic:pubmed-like generated + summarised",
                f"{r['seconds']:.1f} s / {r['cpu_seconds']:.1f} s "
                f"(wall: generate {r['generate_seconds']:.1f} + summarise {r['summarise_seconds']:.1f})",
                f"{r['peak_rss_mb']:.0f} MiB",
                f"{s['train'] + s['validation'] + s['test']:,} docs, {s['labels']:,} labels, "
                f"{s['labels_per_doc']:.2f} labels/doc, "
                f"head/medium/tail {s['head']}/{s['medium']}/{s['tail']}",
            )
        )
    if "bioasq" not in args.skip:
        work = Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
        files = {}
        for label, gb in (("small", args.small_gb), ("large", args.bioasq_gb)):
            path = work / f"bioasq-{gb:g}gb.json"
            if not path.exists():
                w = run_case("write", path=path, gb=gb)
                rows.append(
                    (
                        f"write a {w['bytes'] / 1e9:.2f} GB BioASQ-format file",
                        f"{w['seconds']:.0f} s wall",
                        f"{w['peak_rss_mb']:.0f} MiB",
                        "benchmark set-up",
                    )
                )
            files[label] = path
        for path in files.values():
            r = run_case("stream", path=path)
            rows.append(
                (
                    f"stream {r['bytes'] / 1e9:.2f} GB BioASQ JSON ({r['articles']:,} articles)",
                    f"{r['seconds']:.1f} s / {r['cpu_seconds']:.1f} s ({r['mb_per_s']:.0f} MB/s wall)",
                    f"{r['peak_rss_mb']:.0f} MiB",
                    f"RSS after imports {r['rss_before_mb']:.0f} MiB",
                )
            )
        r = run_case("load", path=files["large"], gb=args.bioasq_gb)
        rows.append(
            (
                "load_bioasq on the large file (years 2020-2021)",
                f"{r['seconds']:.1f} s / {r['cpu_seconds']:.1f} s",
                f"{r['peak_rss_mb']:.0f} MiB",
                f"{r['kept']:,} of {r['articles']:,} articles kept, {r['labels']:,} labels",
            )
        )
        if not args.keep_files:
            for path in files.values():
                path.unlink()

    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} cores")
    print()
    print("| case | time (wall / CPU) | peak RSS | notes |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
