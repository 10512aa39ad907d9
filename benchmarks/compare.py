"""Wall-clock time of the README's main job: ``mlbalance compare`` on Reuters-21578, and one ``train``.

Runs the commands as a user would (a fresh process each, a fresh output folder, nothing reused) and
reports the whole ``compare`` (eight losses + SVM by default) and the median of ``--repeat`` single
``train`` runs (TF-IDF + DB), plus each run's fit / evaluate seconds read from its ``timing.json``.
Targets (issue 7): the whole compare under 10 minutes, a single train under 60 s, on 2 CPU cores.

Examples::

    python benchmarks/compare.py                         # 8 losses + SVM, and 3 single trains
    python benchmarks/compare.py --losses bce,db --repeat 1
    python benchmarks/compare.py --keep runs/bench       # keep the output folders
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "reuters21578.tar.gz"


def timed(cmd: list[str]) -> float:
    """Run ``cmd`` (output discarded unless it fails) and return its wall-clock seconds."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return seconds


def run_timings(folder: Path) -> dict[str, dict[str, float]]:
    out = {}
    for timing in sorted(folder.glob("*/timing.json")):
        out[timing.parent.name] = json.loads(timing.read_text())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the Reuters-21578 archive")
    parser.add_argument("--losses", default="all", help="losses of the compare (default: all)")
    parser.add_argument("--no-svm", action="store_true", help="leave the SVM out of the compare")
    parser.add_argument("--repeat", type=int, default=3, help="single train runs (median reported)")
    parser.add_argument("--skip-compare", action="store_true", help="time single trains only")
    parser.add_argument("--keep", help="folder to keep the outputs in (default: a temporary folder)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mlbalance-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    exe = [sys.executable, "-m", "mlbalance"]
    data = ["--dataset", "reuters21578", "--data", args.data]
    results: dict[str, object] = {"cpu_count": os.cpu_count()}

    train_times = []
    for i in range(args.repeat):
        out = base / f"train-{i}-{time.time_ns()}"
        train_times.append(
            timed([*exe, "train", *data, "--model", "tfidf", "--loss", "db", "--out", str(out)])
        )
        results.setdefault("train_run_timing", json.loads((out / "timing.json").read_text()))
    if train_times:
        results["train_seconds"] = train_times
        results["train_median_seconds"] = statistics.median(train_times)

    if not args.skip_compare:
        out = base / f"compare-{time.time_ns()}"
        cmd = [*exe, "compare", *data, "--model", "tfidf", "--losses", args.losses, "--out", str(out)]
        cmd.append("--no-svm" if args.no_svm else "--svm")
        results["compare_seconds"] = timed(cmd)
        results["compare_runs"] = run_timings(out)

    print("| what | seconds |")
    print("| --- | --- |")
    if train_times:
        listed = ", ".join(f"{t:.1f}" for t in train_times)
        print(
            f"| `mlbalance train --model tfidf --loss db` (median of {len(train_times)}: {listed}) "
            f"| {results['train_median_seconds']:.1f} |"
        )
    if "compare_seconds" in results:
        print(
            f"| `mlbalance compare --losses {args.losses}{'' if args.no_svm else ' --svm'}` (whole) "
            f"| {results['compare_seconds']:.1f} |"
        )
        for name, timing in results["compare_runs"].items():  # type: ignore[union-attr]
            fit, ev = timing.get("fit_seconds", 0.0), timing.get("evaluate_seconds", 0.0)
            print(f"| &nbsp;&nbsp;{name}: fit + evaluate | {fit:.1f} + {ev:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
