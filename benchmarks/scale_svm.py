"""The all-labels-at-once SVM (``svm-sgd``) against scikit-learn's one-vs-rest ``LinearSVC`` (``svm``).

Both models get the same TF-IDF features (the SVM baseline's settings) and the same evaluation: one
global threshold on the decision values tuned on validation (the paper's grid, −1.0 … 1.0), then test
micro/macro F1 for all labels and the head/medium/tail groups. Prints one JSON line per model and the
F1 differences; also the objective ``J`` of both solutions (see :mod:`mlbalance.models.linear_svm`).

Example::

    python benchmarks/scale_svm.py --data ../shared/data/reuters21578.tar.gz
    python benchmarks/scale_svm.py --dataset synthetic:reuters-like
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "reuters21578.tar.gz"
GROUPS = ("total", "head", "medium", "tail")


def objective(x: Any, y: Any, coef: np.ndarray, intercept: np.ndarray, c: float) -> float:
    """``LinearSVC``'s primal over all labels divided by ``C·N`` (the quantity ``svm-sgd`` minimises)."""
    z = np.asarray(x @ coef.T) + intercept
    sign = 2.0 * y.toarray() - 1.0
    margin = np.clip(1.0 - sign * z, 0.0, None)
    n = x.shape[0]
    return float((margin**2).sum() / n + 0.5 * ((coef**2).sum() + (intercept**2).sum()) / (c * n))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="reuters21578")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)

    from mlbalance.data import load_corpus
    from mlbalance.evaluation import evaluate, tune_thresholds
    from mlbalance.models.registry import build_model

    data = args.data if args.dataset == "reuters21578" else None
    corpus = load_corpus(args.dataset, data=data)
    y_train, y_val, y_test = (corpus.labels(s) for s in ("train", "validation", "test"))
    results: dict[str, dict[str, Any]] = {}
    configs = {
        "svm": {"C": args.C},
        "svm-sgd": {"C": args.C, "max_epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size},
    }
    for kind, config in configs.items():
        model = build_model(kind, **config)
        start = time.perf_counter()
        model.fit(corpus)
        fit_s = time.perf_counter() - start
        s_val = model.scores(corpus.validation.texts)
        s_test = model.scores(corpus.test.texts)
        thr = tune_thresholds(s_val, y_val, method="grid", score_kind="decision")
        rows = {r["group"]: r for r in evaluate(s_test, y_test, model.stats_, thr, split="test")}
        x_train = model.features_.transform(corpus.train.texts)
        if kind == "svm":
            coef, intercept = model.coef_, model.intercept_
        else:
            coef = model.head_.embed.weight.detach().numpy().T
            intercept = model.head_.bias.detach().numpy()
        fittable = (np.diff(y_train.tocsc().indptr) > 0) & (
            np.diff(y_train.tocsc().indptr) < y_train.shape[0]
        )
        results[kind] = {
            "model": kind,
            "config": config,
            "fit_s": round(fit_s, 2),
            "threshold": thr.value,
            "objective": objective(
                x_train, y_train[:, fittable], coef[fittable], intercept[fittable], args.C
            ),
            **{
                f"{g}_{m}": round(100 * rows[g][m], 2)
                for g in GROUPS
                if g in rows
                for m in ("micro_f1", "macro_f1")
            },
        }
        print(json.dumps(results[kind]))
    diff = {
        k: round(results["svm-sgd"][k] - results["svm"][k], 2)
        for k in results["svm"]
        if k.endswith("_f1") and k in results["svm-sgd"]
    }
    print(json.dumps({"svm-sgd minus svm (F1 points)": diff}))


if __name__ == "__main__":
    main()
