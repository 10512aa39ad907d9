"""Wall-clock time of the README's main job: ``mlbalance compare`` on Reuters-21578, and one ``train``.

Runs the commands as a user would (a fresh process each, a fresh output folder, nothing reused) and
reports the whole ``compare`` (eight losses + SVM by default) and the median of ``--repeat`` single
``train`` runs (TF-IDF + DB), plus each run's fit / evaluate seconds read from its ``timing.json``.
Targets: the whole compare under 10 minutes, a single train under 60 s, on 2 CPU cores.

Examples::

    python benchmarks/compare.py                         # 8 losses + SVM, and 3 single trains
    python benchmarks/compare.py --losses bce,db --repeat 1
    python benchmarks/compare.py --keep runs/bench       # keep the output folders
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "reuters21578.tar.gz"


def timed(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` (output discarded unless it fails): its wall-clock and CPU (user + system) seconds.

    CPU seconds include the worker processes of ``--jobs``; on a busy shared machine they are the
    steadier figure, wall-clock seconds the one a user waits.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


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
    parser.add_argument("--jobs", type=int, default=2, help="compare --jobs (default: 2, as make demo)")
    parser.add_argument("--repeat", type=int, default=3, help="single train runs (median reported)")
    parser.add_argument("--skip-compare", action="store_true", help="time single trains only")
    parser.add_argument("--keep", help="folder to keep the outputs in (default: a temporary folder)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mlbalance-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    exe = [sys.executable, "-m", "mlbalance"]
    data = ["--dataset", "reuters21578", "--data", args.data]
    results: dict[str, object] = {"cpu_count": os.cpu_count(), "load_before": os.getloadavg()}
    rows = []

    trains = []
    for i in range(args.repeat):
        out = base / f"train-{i}-{time.time_ns()}"
        trains.append(timed([*exe, "train", *data, "--model", "tfidf", "--loss", "db", "--out", str(out)]))
        results.setdefault("train_run_timing", json.loads((out / "timing.json").read_text()))
    if trains:
        results["train_wall_cpu_seconds"] = trains
        wall = statistics.median(t[0] for t in trains)
        cpu = statistics.median(t[1] for t in trains)
        rows.append((f"`mlbalance train --model tfidf --loss db` (median of {len(trains)})", wall, cpu))

    if not args.skip_compare:
        out = base / f"compare-{time.time_ns()}"
        cmd = [*exe, "compare", *data, "--model", "tfidf", "--losses", args.losses, "--out", str(out)]
        cmd += ["--no-svm" if args.no_svm else "--svm", "--jobs", str(args.jobs)]
        wall, cpu = timed(cmd)
        results["compare_wall_cpu_seconds"] = (wall, cpu)
        results["compare_runs"] = run_timings(out)
        svm = "" if args.no_svm else " --svm"
        rows.append(
            (f"`mlbalance compare --losses {args.losses}{svm} --jobs {args.jobs}` (whole)", wall, cpu)
        )
    results["load_after"] = os.getloadavg()

    print("| command | wall s | CPU s |")
    print("| --- | --- | --- |")
    for what, wall, cpu in rows:
        print(f"| {what} | {wall:.1f} | {cpu:.1f} |")
    for name, timing in (results.get("compare_runs") or {}).items():  # type: ignore[union-attr]
        fit, ev = timing.get("fit_seconds", 0.0), timing.get("evaluate_seconds", 0.0)
        print(f"| &nbsp;&nbsp;{name}: fit + evaluate (wall, in its worker) | {fit:.1f} + {ev:.1f} | |")
    load = ", ".join(f"{x:.1f}" for x in (*results["load_before"], *results["load_after"]))  # type: ignore[misc]
    print(f"\n{os.cpu_count()} CPUs; load average (1/5/15 min) before, after: {load}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
