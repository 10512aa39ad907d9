"""LibMultiLabel's linear one-vs-rest with its thresholding, on the same Reuters splits as ours.

The reference row of docs/models.md: LibMultiLabel's ``train_thresholding`` (one-vs-rest L2-loss
linear SVMs from LIBLINEAR, each label's decision threshold picked by a 3-fold cross-validation on
the training set that maximises micro- plus macro-F1, the "micromacro-freq" method of Lin et al.,
CIKM 2023) on TF-IDF features with scikit-learn's defaults and a bias term (``-B 1``, as
LibMultiLabel's example configurations set; without it the same run gives 86.17 / 46.05 on split
123). It trains on the 6,770 training documents of each split (it has no use for the validation
split) and is scored with mlbalance's own Table 2 rows, so its numbers sit beside ours unchanged.

A label with no training document (its only training-pool documents went to validation; splits 3-7
have one to three) can be predicted by LibMultiLabel for most of the test set (split 4, fold seed 0
run alone: ``sun-meal`` on 1,742 test documents, total micro-F1 71.41). Each line therefore holds a
second row, ``test_unseen_never``: the same predictions with such labels never predicted, as
mlbalance does. LIBLINEAR's solver draws from the C library's random generator, which is not reset
between fits: results of a split depend on the fits run before it in the same process (the same
split 4, fold seed 0 gave 87.98 after another fit). A given command line gives the same numbers again
in a fresh process.

LibMultiLabel is not a dependency of mlbalance; install it to run this (it builds LIBLINEAR)::

    pip install libmultilabel
    python benchmarks/libmultilabel_reference.py --split-seeds 123,1,2,3 --fold-seeds 0,1,2

One JSON line per split (and one for the mean) goes to stdout and is appended to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "reuters21578.tar.gz"
GROUPS = ("total", "head", "medium", "tail")


class LabelMatrix(sparse.csc_matrix):
    """The training labels as LibMultiLabel 0.10 expects them, made to work with current SciPy.

    ``train_thresholding`` orders labels by ``np.sum(y, 2)``, an axis SciPy >= 1.15 rejects; what it
    means is the positives per label (axis 0), most frequent first. Everything else is passed on.
    """

    def tocsc(self, copy=False):
        return self

    def sum(self, axis=None, dtype=None, out=None):
        return super().sum(axis=0 if axis == 2 else axis, dtype=dtype, out=out)


def run_split(seed: int, data: Path, method: str, options: str, fold_seed: int = 0) -> dict:
    """Train LibMultiLabel on one split's training set; Table 2 rows (%) on its test set."""
    from libmultilabel import linear
    from sklearn.feature_extraction.text import TfidfVectorizer

    from mlbalance.data import load_corpus
    from mlbalance.evaluation import evaluate_predictions

    corpus = load_corpus("reuters21578", data=str(data), seed=seed)
    vectorizer = TfidfVectorizer()
    x_train = vectorizer.fit_transform(corpus.train.texts)
    x_test = vectorizer.transform(corpus.test.texts)
    y_train = LabelMatrix(corpus.labels("train").astype(np.float64).tocsc())
    np.random.seed(fold_seed)  # the folds of LibMultiLabel's threshold cross-validation
    start = time.perf_counter()
    if method == "thresholding":
        model = linear.train_thresholding(y_train, x_train, options=options, verbose=False)
    else:
        model = linear.train_1vsrest(y_train, x_train, options=options, verbose=False)
    fit_s = time.perf_counter() - start
    decision = np.asarray(linear.predict_values(model, x_test))
    unseen = np.asarray(corpus.labels("train").sum(axis=0)).ravel() == 0

    def table(predicted: np.ndarray) -> dict[str, list[float]]:
        rows = evaluate_predictions(corpus.labels("test"), predicted, corpus.stats(), split="test")
        by_group = {r["group"]: r for r in rows}
        return {g: [round(100 * by_group[g][m], 2) for m in ("micro_f1", "macro_f1")] for g in GROUPS}

    return {
        "system": f"libmultilabel {method}",
        "options": options,
        "split_seed": seed,
        "fold_seed": fold_seed,
        "fit_s": round(fit_s, 2),
        "unseen_labels": int(unseen.sum()),
        "test": table(decision > 0),
        "test_unseen_never": table((decision > 0) & ~unseen),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the Reuters-21578 archive")
    parser.add_argument("--split-seeds", default="123", help="comma-separated seeds of the validation split")
    parser.add_argument("--method", choices=("thresholding", "1vsrest"), default="thresholding")
    parser.add_argument(
        "--options", default="-B 1", help="LIBLINEAR options (default: a bias term; LibMultiLabel adds -s 1)"
    )
    parser.add_argument("--fold-seeds", default="0", help="comma-separated seeds of the threshold folds")
    parser.add_argument("--out", type=Path, default=None, help="append the JSON lines here")
    args = parser.parse_args(argv)
    try:
        import libmultilabel  # noqa: F401
    except ImportError:
        print("error: this benchmark needs LibMultiLabel: pip install libmultilabel", file=sys.stderr)
        return 2
    results = []
    for seed in (int(s) for s in args.split_seeds.split(",")):
        for fold_seed in (int(s) for s in args.fold_seeds.split(",")):
            results.append(run_split(seed, args.data, args.method, args.options, fold_seed))
            print(json.dumps(results[-1]), flush=True)
    if len(results) > 1:
        mean = {
            "system": results[0]["system"],
            "options": args.options,
            "split_seeds": sorted({r["split_seed"] for r in results}),
            "fold_seeds": sorted({r["fold_seed"] for r in results}),
            **{
                key: {
                    g: [round(float(np.mean([r[row][g][i] for r in results])), 2) for i in (0, 1)]
                    for g in GROUPS
                }
                for key, row in (("mean", "test"), ("mean_unseen_never", "test_unseen_never"))
            },
        }
        results.append(mean)
        print(json.dumps(mean), flush=True)
    if args.out is not None:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
