"""Out-of-fold thresholds from top lists against those from every score, on Reuters-21578.

Past its size rule (:data:`mlbalance.out_of_fold.DENSE_OOF_ENTRIES`) ``cross_fit`` keeps each training
document's ``top_k`` highest out-of-fold scores and its labels' scores (sparse) instead of all of them.
Reuters is small enough to keep every score, so this cross-fits once, densely, and then tunes
``per-label-cv`` and ``micromacro-cv`` on the same scores cut to top lists of several sizes
(``keep_top_scores_by_fold``, what ``cross_fit`` keeps; tests check the two agree), reporting test
micro / macro-F1 of each. Prints one JSON line per (method, top_k); ``top_k`` "all" is the dense baseline.

Example (BENCHMARKS.md, *Out-of-fold scores at many labels*)::

    python benchmarks/sparse_oof.py --model tfidf --loss cb-ntr --cv-folds 10 --top-k 3,5,10,20
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "reuters21578.tar.gz"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", default="tfidf")
    parser.add_argument("--loss", default="cb-ntr")
    parser.add_argument("--cv-folds", type=int, default=10)
    parser.add_argument("--top-k", default="3,5,10,20", help="comma-separated sizes of the top lists")
    parser.add_argument("--at-least-one", action="store_true")
    args = parser.parse_args(argv)

    from mlbalance.data import load_corpus
    from mlbalance.evaluation import evaluate
    from mlbalance.evaluation.thresholding import OutOfFold, Scored, get_thresholder
    from mlbalance.evaluation.thresholding.base import keep_top_scores_by_fold
    from mlbalance.models.registry import build_model, model_takes_loss
    from mlbalance.out_of_fold import cross_fit

    corpus = load_corpus("reuters21578", data=str(args.data))
    options = {"loss": args.loss} if model_takes_loss(args.model) else {}

    def build():
        return build_model(args.model, **options)

    start = time.perf_counter()
    model = build().fit(corpus)
    fits = cross_fit(build, corpus, folds=args.cv_folds, seed=0)
    fit_s = time.perf_counter() - start
    y_train = corpus.labels("train")
    val = Scored.checked(model.scores(corpus.validation.texts), corpus.labels("validation"))
    s_test, y_test = model.scores(corpus.test.texts), corpus.labels("test")
    print(json.dumps({"stage": "fit", "seconds": round(fit_s, 1), "folds": args.cv_folds}), flush=True)
    sizes: list[int | None] = [None, *(int(k) for k in args.top_k.split(","))]
    for method in ("per-label-cv", "micromacro-cv"):
        thresholder = get_thresholder(method, at_least_one=args.at_least_one)
        for k in sizes:
            if k is None:
                oof = OutOfFold(fits.scores, y_train, fits.folds, fits.validation_medians)
                kept_share = 1.0
            else:
                kept, unstored_max = keep_top_scores_by_fold(fits.scores, y_train, fits.folds, k)
                oof = OutOfFold(kept, y_train, fits.folds, fits.validation_medians, unstored_max)
                kept_share = kept.nnz / fits.scores.size
            t0 = time.perf_counter()
            thresholds = thresholder.tune(val, oof, model.score_kind)
            tune_s = time.perf_counter() - t0
            total = next(
                r
                for r in evaluate(s_test, y_test, model.stats_, thresholds, split="test")
                if r["group"] == "total"
            )
            print(
                json.dumps(
                    {
                        "method": method,
                        "top_k": "all" if k is None else k,
                        "kept_share": round(kept_share, 4),
                        "tune_s": round(tune_s, 2),
                        "test_micro_f1": round(100 * total["micro_f1"], 2),
                        "test_macro_f1": round(100 * total["macro_f1"], 2),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
