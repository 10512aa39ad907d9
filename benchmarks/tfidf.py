"""Quality and speed of the TF-IDF model and the SVM baseline on Reuters-21578 (the tuning harness).

Trains one configuration (or a sweep over one option) on the paper's split, tunes thresholds on
validation with each requested strategy, and reports test micro/macro F1 for all labels and the
head/medium/tail groups, plus the training time. ``--split-seeds`` repeats the run over several
validation splits (the seed of the 1,000-document validation split; the paper's is 123) and reports
the mean. Each result is one JSON line in ``--out`` (appended), so docs/models.md can cite it.

Examples::

    python benchmarks/tfidf.py --model svm --thresholds grid
    python benchmarks/tfidf.py --model tfidf --set loss=db --sweep lr=5,10,20,40
    python benchmarks/tfidf.py --model tfidf --set loss=cb-ntr --split-seeds 123,1,2,3,4
    python benchmarks/tfidf.py --model svm --thresholds grid,per-label-cv+1,per-label-cv@0.1/grid+1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "reuters21578.tar.gz"
GROUPS = ("total", "head", "medium", "tail")


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_assignments(items: list[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key.replace("-", "_")] = parse_value(value)
    return out


_CORPORA: dict[int, Any] = {}


def corpus_for(seed: int, data: Path) -> Any:
    from mlbalance.data import load_corpus

    if seed not in _CORPORA:
        _CORPORA[seed] = load_corpus("reuters21578", data=str(data), seed=seed)
    return _CORPORA[seed]


def run_one(
    kind: str,
    config: dict[str, Any],
    seed: int,
    data: Path,
    methods: list[str],
    save_scores: Path | None = None,
    folds: int = 3,
) -> dict[str, Any]:
    """Fit one configuration and evaluate it on test with each thresholding method.

    A method is a ``--threshold`` name, optionally with ``+1`` (the at-least-one-label rule) and, for
    ``per-label-cv``, ``@FBR`` and ``/FALLBACK`` (e.g. ``per-label-cv@0.1/grid+1``; without ``@`` fbr
    is chosen on validation, without ``/`` the fallback is ``highest``). ``per-label-cv`` and
    ``micromacro-cv`` fit ``folds`` more models for the out-of-fold training scores.
    """
    from mlbalance.evaluation import evaluate, tune_thresholds, tune_thresholds_cv, tune_thresholds_micromacro
    from mlbalance.models.registry import build_model
    from mlbalance.out_of_fold import cross_fit

    corpus = corpus_for(seed, data)
    model = build_model(kind, **config)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(corpus)
    fit_s = time.perf_counter() - start
    fit_cpu_s = time.process_time() - cpu_start
    s_val = model.scores(corpus.validation.texts)
    s_test = model.scores(corpus.test.texts)
    y_val, y_test = corpus.labels("validation"), corpus.labels("test")
    fits = None
    if any(m.startswith(("per-label-cv", "micromacro-cv")) for m in methods):
        fits = cross_fit(lambda: build_model(kind, **config), corpus, folds=folds, seed=0)
    if save_scores is not None:
        save_scores.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
        name = f"{kind}-{digest}-{seed}.npz"
        extra = {} if fits is None else {"oof": fits.scores, "fold_val_medians": fits.validation_medians}
        np.savez_compressed(save_scores / name, val=s_val, test=s_test, config=json.dumps(config), **extra)
    result: dict[str, Any] = {
        "model": kind,
        "config": config,
        "split_seed": seed,
        "fit_s": round(fit_s, 2),
        "fit_cpu_s": round(fit_cpu_s, 2),
        "best_epoch": getattr(model, "best_epoch_", None),
        "epochs": len(getattr(model, "history_", []) or []),
        "test": {},
    }
    for method in methods:
        name, plus, _ = method.partition("+1")
        name, _, fallback = name.partition("/")
        name, _, fbr = name.partition("@")
        if name == "per-label-cv":
            thr = tune_thresholds_cv(
                fits.scores,  # type: ignore[union-attr]
                corpus.labels("train"),
                s_val,
                y_val,
                model.score_kind,
                fbr=float(fbr) if fbr else None,
                fallback=fallback or "highest",  # type: ignore[arg-type]
                at_least_one=bool(plus),
            )
        elif name == "micromacro-cv":
            thr = tune_thresholds_micromacro(
                fits.scores,  # type: ignore[union-attr]
                corpus.labels("train"),
                fits.folds,  # type: ignore[union-attr]
                s_val,
                y_val,
                model.score_kind,
                at_least_one=bool(plus),
                fold_validation_medians=fits.validation_medians,  # type: ignore[union-attr]
            )
        else:
            thr = tune_thresholds(
                s_val, y_val, method=name, score_kind=model.score_kind, at_least_one=bool(plus)
            )
        rows = evaluate(s_test, y_test, model.stats_, thr, split="test")
        by_group = {r["group"]: r for r in rows}
        result["test"][method] = {
            g: [round(100 * by_group[g]["micro_f1"], 2), round(100 * by_group[g]["macro_f1"], 2)]
            for g in GROUPS
        }
        result["test"][method]["threshold"] = None if thr.value is None else float(thr.value)
        result["test"][method]["fbr"] = thr.fbr
    return result


def mean_over_seeds(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method in results[0]["test"]:
        out[method] = {
            g: [round(float(np.mean([r["test"][method][g][i] for r in results])), 2) for i in (0, 1)]
            for g in GROUPS
        }
    return out


def format_line(label: str, test: dict[str, Any], extra: str = "") -> str:
    parts = []
    for method, groups in test.items():
        cells = " ".join(f"{g}={groups[g][0]:.2f}/{groups[g][1]:.2f}" for g in GROUPS)
        parts.append(f"[{method}] {cells}")
    return f"{label} {extra}\n    " + "\n    ".join(parts)


def speed(data: Path, batch_size: int = 32) -> None:
    """CPU seconds of one training epoch (DB loss) with LazySGD and with dense torch SGD, per vocabulary."""
    import torch

    from mlbalance.models.features import TfidfConfig, TfidfFeatures
    from mlbalance.models.lazy_sgd import LazySGD
    from mlbalance.models.tfidf import TfidfHead, csr_batch, make_loss, torch_threads

    corpus = corpus_for(123, data)
    stats, y = corpus.stats(), corpus.labels("train")
    loss_fn = make_loss("db", stats, "reuters")
    for name, cfg, repeats in (
        ("unigrams", TfidfConfig(ngram_range=(1, 1), max_features=None), 3),
        ("uni+bigrams 100k", TfidfConfig(ngram_range=(1, 2), max_features=100_000), 1),
    ):
        start = time.process_time()
        x = TfidfFeatures(cfg).fit_transform(corpus.train.texts)
        featurise = time.process_time() - start
        times: dict[str, list[float]] = {"lazy": [], "dense": []}
        for _ in range(repeats):
            for kind in ("lazy", "dense"):
                torch.manual_seed(0)
                head = TfidfHead(x.shape[1], y.shape[1], sparse=kind == "lazy")
                if kind == "lazy":
                    opt: Any = LazySGD([head.embed.weight], [head.bias], lr=3000.0, momentum=0.9)
                else:
                    opt = torch.optim.SGD(head.parameters(), lr=3000.0, momentum=0.9, nesterov=True)
                order = np.random.default_rng(0).permutation(x.shape[0])
                with torch_threads(1):
                    start = time.process_time()
                    for b in range(0, x.shape[0], batch_size):
                        rows = order[b : b + batch_size]
                        batch = csr_batch(x, rows)
                        if kind == "lazy":
                            opt.prepare(batch[0])
                        loss = loss_fn(head(*batch), torch.from_numpy(y[rows].toarray()))
                        opt.zero_grad()
                        loss.backward()
                        opt.step()
                    if kind == "lazy":
                        opt.finalize()
                    times[kind].append(time.process_time() - start)
        lazy, dense = float(np.median(times["lazy"])), float(np.median(times["dense"]))
        print(
            f"{name}: {x.shape[1]} features, featurise {featurise:.1f} s CPU; one epoch (batch "
            f"{batch_size}), median of {repeats}: LazySGD {lazy:.2f} s CPU, dense SGD {dense:.2f} s CPU, "
            f"ratio {dense / lazy:.1f}x",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=("tfidf", "svm"), default="tfidf")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--set", action="append", default=[], help="a model option, key=value (JSON value)")
    parser.add_argument("--sweep", default=None, help="key=v1,v2,...: one run per value")
    parser.add_argument("--split-seeds", default="123", help="validation-split seeds, comma-separated")
    parser.add_argument(
        "--thresholds",
        default="grid,global-optimal,per-label",
        help="comma-separated methods; '+1' adds the at-least-one rule; per-label-cv takes '@FBR' "
        "and '/FALLBACK' (highest, highest-oof, grid), e.g. per-label-cv@0.1/grid+1",
    )
    parser.add_argument("--folds", type=int, default=3, help="folds of the per-label-cv scores")
    parser.add_argument("--out", type=Path, default=None, help="append JSON lines here")
    parser.add_argument("--tag", default="", help="free text stored with the result")
    parser.add_argument("--save-scores", type=Path, default=None, help="keep validation/test scores here")
    parser.add_argument("--speed", action="store_true", help="time one epoch: LazySGD vs dense SGD")
    args = parser.parse_args(argv)
    if args.speed:
        speed(args.data)
        return 0

    base = parse_assignments(args.set)
    sweeps: list[dict[str, Any]] = [{}]
    if args.sweep:
        key, _, values = args.sweep.partition("=")
        sweeps = [
            {key.replace("-", "_"): parse_value(v)} for v in values.split(";" if ";" in values else ",")
        ]
    seeds = [int(s) for s in args.split_seeds.split(",")]
    methods = args.thresholds.split(",")
    for sweep in sweeps:
        config = {**base, **sweep}
        results = [
            run_one(args.model, config, seed, args.data, methods, args.save_scores, args.folds)
            for seed in seeds
        ]
        summary = {
            "model": args.model,
            "config": config,
            "split_seeds": seeds,
            "fit_s": [r["fit_s"] for r in results],
            "fit_cpu_s": [r["fit_cpu_s"] for r in results],
            "best_epoch": [r["best_epoch"] for r in results],
            "epochs": [r["epochs"] for r in results],
            "test_mean": mean_over_seeds(results),
            "runs": results,
            "tag": args.tag,
            "command": "python benchmarks/tfidf.py " + " ".join(sys.argv[1:] if argv is None else argv),
        }
        extra = (
            f"fit_s={summary['fit_s']} fit_cpu_s={summary['fit_cpu_s']} "
            f"best_epoch={summary['best_epoch']} epochs={summary['epochs']}"
        )
        print(format_line(f"{args.model} {json.dumps(config)} seeds={seeds}", summary["test_mean"], extra))
        sys.stdout.flush()
        if args.out:
            with args.out.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
