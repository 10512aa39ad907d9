"""fastText with one-vs-all losses (``-loss ova``) on Reuters-21578, thresholds tuned on validation.

A reference row beside ours: fastText's supervised classifier with independent binary losses per label
(the settings of fastText's multi-label tutorial: ``-lr 0.5 -epoch 25 -wordNgrams 2 -bucket 200000
-dim 50 -loss ova``) is trained on the training split of the same corpus; its probabilities of every
label for the validation and test documents are thresholded with mlbalance's own methods tuned on
validation (``--thresholds``), and scored with mlbalance's Table 2 rows.

fastText is not a dependency of mlbalance; install it to run this (``fasttext-wheel`` is a prebuilt
wheel of fastText 0.9.2)::

    pip install fasttext-wheel
    python benchmarks/fasttext_reference.py --thresholds grid,global-optimal,per-label-cv

(``per-label-cv`` here tunes on 3-fold out-of-fold training scores of fastText itself.) One JSON line
per thresholding method goes to stdout. With ``--threads 1`` the scores are the same on every run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "reuters21578.tar.gz"


def one_line(text: str) -> str:
    return " ".join(text.lower().split())


class FastTextOva:
    """fastText ``-loss ova`` behind the two calls mlbalance's cross-fitting needs (``fit``/``scores``)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def fit(self, corpus: Any) -> FastTextOva:
        import fasttext

        self.names = corpus.label_space.names
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "train.txt"
            with path.open("w", encoding="utf-8") as handle:
                for text, labels in zip(corpus.train.texts, corpus.train.labels):
                    tags = " ".join(f"__label__{self.names.index(label)}" for label in labels)
                    handle.write(f"{tags} {one_line(text)}\n")
            a = self.args
            self.model = fasttext.train_supervised(
                input=str(path),
                loss="ova",
                lr=a.lr,
                epoch=a.epoch,
                wordNgrams=a.word_ngrams,
                bucket=a.bucket,
                dim=a.dim,
                minCount=1,
                thread=a.threads,
                seed=a.seed,
                verbose=0,
            )
        return self

    def scores(self, texts: list[str]) -> np.ndarray:
        """Every label's probability for every text, float32 ``(n, C)``."""
        out = np.zeros((len(texts), len(self.names)), dtype=np.float32)
        for i, text in enumerate(texts):
            # the low-level call: fastText 0.9.2's Python ``predict`` fails on NumPy 2
            for prob, label in self.model.f.predict(one_line(text) + "\n", -1, 0.0, "strict"):
                out[i, int(label.removeprefix("__label__"))] = prob
        return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split-seed", type=int, default=123, help="the validation split's seed")
    parser.add_argument("--thresholds", default="grid,global-optimal,per-label-cv")
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--epoch", type=int, default=25)
    parser.add_argument("--word-ngrams", type=int, default=2)
    parser.add_argument("--bucket", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--at-least-one", action="store_true")
    args = parser.parse_args(argv)

    from mlbalance.data import load_corpus
    from mlbalance.evaluation import evaluate
    from mlbalance.evaluation.thresholding import OutOfFold, Scored, get_thresholder
    from mlbalance.out_of_fold import cross_fit

    corpus = load_corpus("reuters21578", data=str(args.data), seed=args.split_seed)
    start = time.perf_counter()
    model = FastTextOva(args).fit(corpus)
    fit_s = time.perf_counter() - start
    stats = corpus.stats()
    val = Scored.checked(model.scores(corpus.validation.texts), corpus.labels("validation"))
    s_test, y_test = model.scores(corpus.test.texts), corpus.labels("test")
    for method in args.thresholds.split(","):
        thresholder = get_thresholder(method, at_least_one=args.at_least_one)
        oof = None
        if thresholder.needs_oof:
            fits = cross_fit(lambda: FastTextOva(args), corpus, folds=3, validation_medians=False)
            oof = OutOfFold(fits.scores, corpus.labels("train"), fits.folds)
        thresholds = thresholder.tune(val, oof, "probability")
        rows = {r["group"]: r for r in evaluate(s_test, y_test, stats, thresholds, split="test")}
        record = {
            "system": "fastText -loss ova",
            "thresholds": method + (" + at-least-one" if args.at_least_one else ""),
            "split_seed": args.split_seed,
            "fit_s": round(fit_s, 1),
            **{
                g: [round(100 * rows[g]["micro_f1"], 2), round(100 * rows[g]["macro_f1"], 2)]
                for g in ("total", "head", "medium", "tail")
            },
        }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
