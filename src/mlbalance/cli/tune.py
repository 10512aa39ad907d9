"""``mlbalance tune``: search model, loss and thresholding on validation; train the best into OUT/best.

Search model kind (tfidf, svm; with --models also embedding, hybrid, svm-hybrid), loss and its
parameters, learning rate, epochs, min_df, n-grams, C and the thresholding on the validation split
(Optuna, TPE with pruning; the study in OUT/study.db, so a rerun continues it). Writes OUT/best (a
run directory), OUT/trials.csv and OUT/tune.md. Needs mlbalance[tune].
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mlbalance.cli._common import TqdmProgress, add_command, add_option_flag, parse_option, print_tables
from mlbalance.errors import DataError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "tune", __doc__)
    parser.add_argument("--dataset", required=True, metavar="SOURCE", help="a source name or a path")
    parser.add_argument("--data", metavar="PATH", help="the file or folder a named source reads")
    parser.add_argument("--out", required=True, metavar="DIR", help="the tune folder")
    parser.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help="seconds for the whole tune: the search stops so that refitting the best ends within them",
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=None,
        help="trials the study holds in all (default: 20 without --budget)",
    )
    parser.add_argument(
        "--objective",
        choices=("mean", "micro", "macro"),
        default="mean",
        help="validation F1 to maximise: the mean of micro- and macro-F1 (default), or one of them",
    )
    parser.add_argument(
        "--scoring",
        choices=("cross-fitted", "validation"),
        default="cross-fitted",
        help="cross-fitted (default): rank trials by validation F1 of thresholds tuned without the "
        "documents they predict (each fifth of validation by the other four); validation: by the "
        "F1 of thresholds tuned on all of it",
    )
    parser.add_argument(
        "--models",
        default="tfidf,svm",
        help="model kinds to search (default: tfidf,svm; also embedding, hybrid, svm-hybrid)",
    )
    add_option_flag(parser, "a model option every trial gets, not searched (e.g. -o encoder=minilm)")
    parser.add_argument(
        "--thresholds",
        default="grid,global-optimal,per-label,per-label-cv,micromacro-cv",
        help="thresholding methods to search (default: all five)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampler and the models")
    parser.add_argument(
        "--engine",
        choices=("optuna", "ray"),
        default="optuna",
        help="optuna: trials one by one here (default); ray: the same study, trials in parallel on "
        "Ray Tune (mlbalance[ray]); both prune trials that trail after their first epochs",
    )
    parser.add_argument("--address", help="--engine ray: the Ray cluster's address (default: a local Ray)")
    parser.add_argument(
        "--concurrent-trials",
        type=int,
        default=None,
        metavar="N",
        help="--engine ray: at most N trials at once (default: one per CPU of the cluster)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlbalance.tune import tune

    if args.seed < 0:
        raise DataError(f"--seed must be >= 0, got {args.seed}")
    trials = args.trials if args.trials is not None or args.budget is not None else 20
    progress = TqdmProgress()
    started = time.perf_counter()

    def on_trial(done: int, value: float | None, best: float | None, seconds: float) -> None:
        info = {"best": f"{100 * best:.2f}" if best is not None else "-"}
        if args.budget is not None:
            info["left"] = f"{max(0.0, args.budget - seconds):.0f}s"
        progress("trials", done, trials, **info)

    try:
        result = tune(
            args.dataset,
            Path(args.out),
            data=args.data,
            budget=args.budget,
            trials=trials,
            objective=args.objective,
            scoring=args.scoring,
            models=[m.strip() for m in args.models.split(",") if m.strip()],
            thresholds=[t.strip() for t in args.thresholds.split(",") if t.strip()],
            model_options=dict(parse_option(text) for text in args.option),
            engine=args.engine,
            address=args.address,
            concurrent_trials=args.concurrent_trials,
            seed=args.seed,
            progress=progress,
            on_trial=on_trial,
        )
    finally:
        progress.close()
    print_tables([r for r in result.best.metrics if r["split"] == "test"])
    print()
    finished = sum(r["state"] == "complete" for r in result.trials)
    print(
        f"{len(result.trials)} trials ({finished} finished) in {time.perf_counter() - started:.1f} s; best "
        f"validation {args.objective} F1 {100 * result.best_value:.2f}; run in {Path(args.out) / 'best'}, "
        f"leaderboard in {Path(args.out) / 'tune.md'}",
        file=sys.stderr,
    )
    return 0
