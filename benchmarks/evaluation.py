"""Speed and memory of evaluation at PubMed's size, beside scikit-learn's ``f1_score`` in the same run.

Data (generated, seeded): validation and test score matrices of 5,000 × 18,211 float32 with ≈12.3 true
labels per document drawn from a long-tailed (Zipf-like) label distribution, and LabelStats of a
generated training split with the paper's PubMed groups (head ≥ 50, tail ≤ 15, tertile document bins).

Scores (``--scores``):
- ``model`` (default): what a trained model gives — sigmoid of logits N(−6, 1.8²) for negatives and
  N(0.5, 2²) for positives: few negatives compete above 0.4, as with a real classifier;
- ``uniform``: the worst case for the pruned searches — every score uniform in [0, 1], positives
  shifted up by 0.3, so every score is a candidate.

The timed pipeline (median of ``--repeat`` runs): grid thresholds (21) and the exact global optimum on
validation; the full threshold sweep (21 thresholds × total/head/medium/tail, micro and macro F1) on
validation; Table 2 and Table 3 rows on test for both thresholds; P@1/3/5 and nDCG@1/3/5 on test; the
top-20 confused pairs; the Markdown tables. Peak memory is the process's maximum resident set size
(inputs included), read before scikit-learn runs.

scikit-learn reference: the same 21 thresholds × 4 groups with ``f1_score`` (micro and macro per
group) on 2-D arrays. That takes seconds per call at this size, so ``--sklearn-thresholds`` (default
1) thresholds are timed and the result is extrapolated to 21 (said so in the output); the same with
CSR inputs (``--sklearn-sparse-thresholds``, default 3).

Examples::

    python benchmarks/evaluation.py
    python benchmarks/evaluation.py --scores uniform --repeat 1
    python benchmarks/evaluation.py --docs 1000 --labels 2000 --sklearn-thresholds 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp

from mlbalance.data.stats import DATASET_GROUPING, LabelStats
from mlbalance.evaluation import (
    PAPER_GRIDS,
    confused_pairs,
    evaluate,
    ranking_metrics,
    table2_markdown,
    table3_markdown,
    threshold_sweep,
    tune_thresholds,
)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def make_labels(rng: np.random.Generator, n_docs: int, popularity: np.ndarray, mean: float) -> sp.csr_matrix:
    """Binary CSR labels: per document Poisson(mean) draws (≥1) from ``popularity``, duplicates merged."""
    n_labels = popularity.size
    counts = np.maximum(1, rng.poisson(mean * 1.06, size=n_docs))  # ≈6% of draws are duplicates
    rows = np.repeat(np.arange(n_docs), counts)
    cols = rng.choice(n_labels, size=rows.size, p=popularity)
    y = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=(n_docs, n_labels))
    y.sum_duplicates()
    y.data[:] = 1
    return y


def make_scores(rng: np.random.Generator, y: sp.csr_matrix, kind: str) -> np.ndarray:
    """Float32 scores built in row chunks (no float64 copy of the whole matrix)."""
    n_docs, n_labels = y.shape
    out = np.empty((n_docs, n_labels), dtype=np.float32)
    step = 250
    for a in range(0, n_docs, step):
        b = min(n_docs, a + step)
        block = y[a:b].toarray().astype(bool)
        if kind == "uniform":
            z = rng.random((b - a, n_labels), dtype=np.float32) * 0.7
            z[block] += 0.3
        else:
            z = rng.standard_normal((b - a, n_labels), dtype=np.float32) * 1.8 - 6.0
            z[block] = rng.normal(0.5, 2.0, size=int(block.sum())).astype(np.float32)
            np.negative(z, out=z)
            np.exp(z, out=z)
            z += 1.0
            np.reciprocal(z, out=z)
        out[a:b] = z
    return out


def pipeline(s_val, y_val, s_test, y_test, stats) -> tuple[dict[str, float], dict]:
    times: dict[str, float] = {}
    out: dict = {}

    def step(name, fn):
        t, c = time.perf_counter(), time.process_time()
        value = fn()
        times[name] = time.perf_counter() - t
        times[f"cpu:{name}"] = time.process_time() - c
        return value

    groups = {"total": np.arange(stats.n_labels), **stats.group_indices()}
    grid = step("grid thresholds (21)", lambda: tune_thresholds(s_val, y_val, method="grid"))
    opt = step("global-optimal threshold", lambda: tune_thresholds(s_val, y_val, method="global-optimal"))
    sweep = step(
        "sweep 21 thresholds x 4 groups",
        lambda: threshold_sweep(s_val, y_val, PAPER_GRIDS["probability"], label_groups=groups),
    )
    rows = step(
        "Table 2+3 rows, 2 thresholds",
        lambda: [
            {"model": "synthetic", "loss": thr.method, **r}
            for thr in (grid, opt)
            for r in evaluate(s_test, y_test, stats, thr)
        ],
    )
    ranks = step("P@1,3,5 + nDCG@1,3,5", lambda: ranking_metrics(s_test, y_test, ks=(1, 3, 5)))
    pairs = step(
        "top-20 confused pairs", lambda: confused_pairs(y_test, opt.predict(s_test), stats.names, top=20)
    )
    tables = step("Markdown tables", lambda: table2_markdown(rows) + "\n" + table3_markdown(rows))
    out.update(grid=grid, opt=opt, sweep=sweep, rows=rows, ranks=ranks, pairs=pairs, tables=tables)
    return times, out


def sklearn_reference(s, y, stats, thresholds, sparse: bool) -> float:
    """Seconds of f1_score micro+macro for total/head/medium/tail at each threshold (incl. predicting)."""
    from sklearn.metrics import f1_score

    groups = [np.arange(stats.n_labels), *stats.group_indices().values()]
    y_in = y if sparse else y.toarray().astype(np.int8)
    start = time.perf_counter()
    for t in thresholds:
        pred = s >= np.float32(t)
        pred = sp.csr_matrix(pred) if sparse else pred.astype(np.int8)
        for idx in groups:
            for avg in ("micro", "macro"):
                f1_score(y_in[:, idx], pred[:, idx], average=avg, zero_division=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=5000, help="documents in validation and in test")
    parser.add_argument("--labels", type=int, default=18211)
    parser.add_argument("--mean-labels", type=float, default=12.3, help="true labels per document")
    parser.add_argument("--scores", choices=("model", "uniform"), default="model")
    parser.add_argument("--repeat", type=int, default=3, help="timed pipeline runs (median reported)")
    parser.add_argument("--sklearn-thresholds", type=int, default=1, help="thresholds timed, dense (0: skip)")
    parser.add_argument("--sklearn-sparse-thresholds", type=int, default=3, help="thresholds timed, CSR")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    ranks = np.arange(1, args.labels + 1)
    popularity = 1.0 / ranks**1.0
    popularity /= popularity.sum()
    y_train = make_labels(rng, 10 * args.docs, popularity, args.mean_labels)
    names = [f"L{i}" for i in range(args.labels)]
    stats = LabelStats.from_labels(y_train, names, preset="pubmed", **DATASET_GROUPING["pubmed"])
    del y_train
    y_val = make_labels(rng, args.docs, popularity, args.mean_labels)
    y_test = make_labels(rng, args.docs, popularity, args.mean_labels)
    s_val = make_scores(rng, y_val, args.scores)
    s_test = make_scores(rng, y_test, args.scores)
    rss_inputs = peak_rss_mib()

    runs = [pipeline(s_val, y_val, s_test, y_test, stats) for _ in range(max(1, args.repeat))]
    rss_peak = peak_rss_mib()
    tracemalloc.start()  # one more (untimed) run: peak of the memory it allocates beyond the inputs
    pipeline(s_val, y_val, s_test, y_test, stats)
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    steps = {name: statistics.median(r[0][name] for r in runs) for name in runs[0][0] if ":" not in name}
    cpu = {name: statistics.median(r[0][f"cpu:{name}"] for r in runs) for name in steps}
    totals = [sum(v for k, v in r[0].items() if ":" not in k) for r in runs]
    cpu_totals = [sum(v for k, v in r[0].items() if k.startswith("cpu:")) for r in runs]
    out = runs[-1][1]

    extra = {}  # the other threshold methods, outside the pipeline above (one run each)
    for name, kwargs in (
        ("per-label thresholds (fallback global-optimal)", {"method": "per-label"}),
        ("top-k, k tuned in 1..max_k", {"method": "top-k"}),
    ):
        tracemalloc.start()
        t, c = time.perf_counter(), time.process_time()
        thr = tune_thresholds(s_val, y_val, **kwargs)
        extra[name] = (time.perf_counter() - t, time.process_time() - c, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        t, c = time.perf_counter(), time.process_time()
        evaluate(s_test, y_test, stats, thr)
        label = f"  Table 2+3 rows with them (k={thr.k})" if thr.k else "  Table 2+3 rows with them"
        extra[label] = (time.perf_counter() - t, time.process_time() - c, None)

    grid21 = PAPER_GRIDS["probability"]
    ref = {}
    if args.sklearn_thresholds:
        sec = sklearn_reference(s_val, y_val, stats, grid21[: args.sklearn_thresholds], sparse=False)
        ref["dense"] = (sec, args.sklearn_thresholds, sec * 21 / args.sklearn_thresholds)
    if args.sklearn_sparse_thresholds:
        sec = sklearn_reference(s_val, y_val, stats, grid21[: args.sklearn_sparse_thresholds], sparse=True)
        ref["csr"] = (sec, args.sklearn_sparse_thresholds, sec * 21 / args.sklearn_sparse_thresholds)

    # check the sweep against scikit-learn at one threshold (the benchmark's numbers must be right)
    from sklearn.metrics import f1_score

    pred = (s_val >= np.float32(0.5)).astype(np.int8)
    sk = f1_score(y_val.toarray(), pred, average="micro", zero_division=0)
    ours = next(r["micro_f1"] for r in out["sweep"] if r["threshold"] == 0.5 and r["group"] == "total")
    if abs(sk - ours) > 1e-9:
        sys.exit(f"sweep disagrees with scikit-learn at 0.5: {ours} vs {sk}")

    print(f"scores: {args.scores}; val and test {args.docs} x {args.labels} float32; "
          f"{y_val.nnz / args.docs:.2f} true labels per document; groups {stats.group_sizes()}")  # fmt: skip
    grid, opt = out["grid"], out["opt"]
    print(f"grid threshold {grid.value} (val micro-F1 {grid.validation_micro_f1:.4f}); "
          f"global-optimal {opt.value:.6f} (val micro-F1 {opt.validation_micro_f1:.4f})")  # fmt: skip
    print(f"test: {out['ranks']}")
    print(f"\n| step | median wall s ({len(runs)} runs) | median CPU s |\n| --- | --- | --- |")
    for name, sec in steps.items():
        print(f"| {name} | {sec:.3f} | {cpu[name]:.3f} |")
    print(
        f"| **total** | **{statistics.median(totals):.2f}** (runs: {', '.join(f'{t:.2f}' for t in totals)}) "
        f"| **{statistics.median(cpu_totals):.2f}** |"
    )
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    print(
        "\n| other methods (1 run, not in the total) | wall s | CPU s | MiB beyond inputs |\n"
        "| --- | --- | --- | --- |"
    )
    for name, (sec, cpu_sec, peak) in extra.items():
        print(f"| {name} | {sec:.3f} | {cpu_sec:.3f} | {'' if peak is None else f'{peak / 2**20:.0f}'} |")
    print(
        f"\npeak RSS of the process: {rss_peak:.0f} MiB (after building the inputs: {rss_inputs:.0f} MiB; "
        f"the two score matrices alone: {(s_val.nbytes + s_test.nbytes) / 2**20:.0f} MiB); peak allocated "
        f"by one pipeline run beyond its inputs (tracemalloc): {traced_peak:.0f} MiB"
    )
    sweep_ours = steps["sweep 21 thresholds x 4 groups"]
    for kind, (sec, n_thr, est21) in ref.items():
        print(
            f"scikit-learn f1_score ({kind} inputs), micro+macro x 4 groups: {sec:.1f} s for {n_thr} "
            f"threshold(s) -> {est21:.0f} s for 21 (extrapolated) = {est21 / sweep_ours:.0f}x our sweep"
        )
    print("\n" + out["tables"])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "steps": steps,
                    "totals": totals,
                    "cpu_totals": cpu_totals,
                    "peak_rss_mib": rss_peak,
                    "traced_peak_mib": traced_peak,
                    "other_methods": extra,
                    "sklearn": ref,
                },
                handle,
                indent=2,
            )


if __name__ == "__main__":
    main()
