"""PubMed scale (224,897 documents × 18,211 labels) on this machine: time, memory and where time goes.

Sub-commands (each prints JSON lines; ``BENCHMARKS.md`` records them with these commands):

``epoch``
    Loads a corpus (default ``synthetic:pubmed-like``), then fits :class:`TfidfClassifier` for
    ``--epochs`` epochs with ``--loss`` (default ``db``) and reports the seconds of each stage
    (corpus, featurise, training epoch, validation) from the model's progress calls, the CPU seconds,
    and the peak resident memory. ``--max-batches`` stops the epoch early and extrapolates (marked).
    ``--alternate`` settings are fitted in turn with ``--model-options`` (``--rounds`` times) on the one
    corpus, for ratios within one run.
``profile``
    The same head, loss and optimiser on real TF-IDF batches of the corpus, timed phase by phase
    (batch assembly, head forward, loss forward, backward, optimiser step) over ``--batches`` steps,
    with the physical floor beside it: the head's FLOPs over this machine's measured GEMM rate and the
    loss's element count over the measured element-wise rate (see ``benchmarks/scale_rates.py``).
``evaluate``
    Evaluation of a ``(5,000, 18,211)`` float32 score matrix against the pubmed-like test labels:
    threshold tuning (the paper's grid) plus every table (``evaluate``), median of ``--repeats``.
``svm``
    CPU seconds per step of the all-labels SVM (``svm-sgd``) at PubMed size (18,211 labels, a
    20,000-term cap) on random TF-IDF-like rows, and the epoch they add up to.
``oof``
    The out-of-fold thresholding methods (``per-label-cv``, ``micromacro-cv``) at PubMed size on
    out-of-fold scores kept as each document's top list (what ``cross_fit`` keeps past its size rule):
    seconds and peak memory.
``bioasq``
    Streams a BioASQ Task A JSON file (write one with ``--write N``) into a corpus with
    ``load_corpus("bioasq", ...)``, trains the TF-IDF model for ``--epochs`` epochs, tunes thresholds
    and evaluates; reports the stage times and the peak RSS after each stage.

Examples::

    python benchmarks/scale.py epoch --epochs 1
    python benchmarks/scale.py profile --batches 20
    python benchmarks/scale.py evaluate
    python benchmarks/scale.py bioasq --data /tmp/bioasq.json --write 560000
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

#: The TF-IDF model's settings at PubMed scale (see docs/scale.md for how they were chosen).
SCALE_TFIDF = {
    "hidden": 256,
    "optimizer": "adamw",
    "lr": 3e-3,
    "batch_size": 512,
    "max_features": 100_000,
    "ngram_range": (1, 1),
}


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far (GiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


class StageClock:
    """A progress callback that timestamps the stages of ``TfidfClassifier.fit``.

    Records when featurising ends, when each epoch's last batch ends (``epoch N``) and when its
    validation ends (``run_training`` reports ``("train", N, max_epochs)`` after validating).
    """

    def __init__(self, max_batches: int | None = None) -> None:
        self.start = time.perf_counter()
        self.marks: dict[str, float] = {}
        self.batches: dict[str, int] = {}
        self.max_batches = max_batches

    def __call__(self, stage: str, done: int, total: int | None, **info: Any) -> None:
        now = time.perf_counter() - self.start
        if stage.startswith("epoch "):
            self.batches[stage] = done
            self.batches[stage + " total"] = total or 0
            if done == 1:
                self.marks[stage + " first batch"] = now
                self.marks[stage + " first batch cpu"] = cpu_seconds()
            if self.max_batches is not None and done >= self.max_batches:
                self.marks[stage + " stopped"] = now
                self.marks[stage + " stopped cpu"] = cpu_seconds()
                raise _StopEpoch
            if total is not None and done >= total:
                self.marks[stage] = now
        elif stage == "train":
            self.marks[f"validated {done}"] = now
        elif stage == "featurise" and total is not None and done >= total:
            self.marks["featurise"] = now


class _StopEpoch(Exception):
    pass


def load(source: str, data: str | None, options: dict[str, Any]) -> tuple[Any, float]:
    from mlbalance.data import load_corpus

    start = time.perf_counter()
    corpus = load_corpus(source, data=data, **options)
    return corpus, time.perf_counter() - start


def cmd_epoch(args: argparse.Namespace) -> None:
    import torch

    corpus, load_s = load(args.dataset, args.data, json.loads(args.data_options))
    emit(
        {
            "stage": "corpus",
            "seconds": round(load_s, 1),
            "train": len(corpus.train),
            "labels": len(corpus.label_space),
            "peak_rss_gib": round(peak_rss_gib(), 2),
        }
    )
    if args.flush_denormal:
        torch.set_flush_denormal(True)
    settings = [json.loads(args.model_options), *(json.loads(a) for a in args.alternate)]
    for round_ in range(args.rounds):
        for options in settings:
            record = fit_epochs(corpus, {**SCALE_TFIDF, **options}, args)
            if len(settings) > 1 or args.rounds > 1:
                record["round"] = round_ + 1
            if args.flush_denormal:
                record["flush_denormal"] = True
            emit(record)


def fit_epochs(corpus: Any, config: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Fit the TF-IDF model of ``config`` for ``--epochs`` (or ``--max-batches`` of the first): the
    stage seconds, CPU seconds and peak memory."""
    from mlbalance.models.tfidf import TfidfClassifier

    model = TfidfClassifier(loss=args.loss, max_epochs=args.epochs, patience=args.epochs, **config)
    clock = StageClock(args.max_batches)
    cpu0 = cpu_seconds()
    stopped = False
    try:
        model.fit(corpus, progress=clock)
    except _StopEpoch:
        stopped = True
    wall = time.perf_counter() - clock.start
    marks = clock.marks
    record: dict[str, Any] = {
        "stage": "fit",
        "loss": args.loss,
        "config": config,
        "epochs": args.epochs,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu_seconds() - cpu0, 1),
        "featurise_s": round(marks.get("featurise", float("nan")), 1),
        "peak_rss_gib": round(peak_rss_gib(), 2),
    }
    if stopped:
        done = clock.batches["epoch 1"]
        total = clock.batches["epoch 1 total"]
        # The first batch carries one-off costs (allocations, thread start-up): extrapolate the rest.
        spent = marks["epoch 1 stopped"] - marks["epoch 1 first batch"]
        first = marks["epoch 1 first batch"] - marks["featurise"]
        per_batch = spent / max(1, done - 1)
        cpu_per_batch = (marks["epoch 1 stopped cpu"] - marks["epoch 1 first batch cpu"]) / max(1, done - 1)
        record.update(
            {
                "batches": done,
                "of": total,
                "first_batch_s": round(first, 2),
                "per_batch_s": round(per_batch, 3),
                "epoch_s_extrapolated": round(first + per_batch * (total - 1), 1),
                "cpu_s_per_batch": round(cpu_per_batch, 3),
                "epoch_cpu_s_extrapolated": round(cpu_per_batch * total, 1),
            }
        )
    else:
        previous = marks["featurise"]
        for epoch in range(1, args.epochs + 1):
            trained = marks[f"epoch {epoch}"]
            validated = marks[f"validated {epoch}"]
            record[f"epoch{epoch}_train_s"] = round(trained - previous, 1)
            record[f"epoch{epoch}_validation_s"] = round(validated - trained, 1)
            previous = validated
        record["history"] = model.history_
    return record


def cmd_profile(args: argparse.Namespace) -> None:
    import torch

    from mlbalance.models.features import TfidfFeatures
    from mlbalance.models.tfidf import TfidfClassifier, TfidfHead, csr_batch, make_loss

    corpus, _ = load(args.dataset, args.data, json.loads(args.data_options))
    config = {**SCALE_TFIDF, **json.loads(args.model_options)}
    clf = TfidfClassifier(loss=args.loss, **config)
    n_docs = args.batches * clf.batch_size
    texts = corpus.train.texts[:n_docs]
    start = time.perf_counter()
    feats = TfidfFeatures(clf._tfidf_config())
    x = feats.fit_transform(texts)
    featurise_s = time.perf_counter() - start
    y = corpus.labels("train")[:n_docs]
    stats = corpus.stats()
    loss_fn = make_loss(args.loss, stats, corpus.preset)
    # The sample's vocabulary is smaller than the full corpus's: size the first layer for the full one
    # (the cap, or --vocabulary), so the optimiser's cost per step is the real one.
    n_features = max(x.shape[1], args.vocabulary or clf.max_features or x.shape[1])
    head = TfidfHead(n_features, y.shape[1], clf.hidden)
    optimizer = torch.optim.AdamW(head.parameters(), lr=clf.lr, weight_decay=clf.weight_decay)
    phases = dict.fromkeys(("batch", "forward", "loss", "backward", "optimizer"), 0.0)
    b = clf.batch_size
    cpu_start = wall_start = 0.0
    for step in range(args.batches):
        if step == 1:  # the first step warms up
            cpu_start, wall_start = cpu_seconds(), time.perf_counter()
        t0 = time.process_time()
        rows = slice(step * b, (step + 1) * b)
        targets = torch.from_numpy(y[rows].toarray())
        batch = csr_batch(x, rows)
        t1 = time.process_time()
        logits = head(*batch)
        t2 = time.process_time()
        loss = loss_fn(logits, targets)
        t3 = time.process_time()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t4 = time.process_time()
        optimizer.step()
        t5 = time.process_time()
        if step:  # the first step warms up
            for key, a, c in (
                ("batch", t0, t1),
                ("forward", t1, t2),
                ("loss", t2, t3),
                ("backward", t3, t4),
                ("optimizer", t4, t5),
            ):
                phases[key] += c - a
    steps = args.batches - 1
    cpu_per_step = (cpu_seconds() - cpu_start) / steps
    wall_per_step = (time.perf_counter() - wall_start) / steps
    per_step = {k: v / steps for k, v in phases.items()}
    step_s = sum(per_step.values())
    n_train = len(corpus.train)
    n_labels = y.shape[1]
    nnz = x.nnz / x.shape[0]
    h = clf.hidden
    # FLOPs per document: sparse first layer (2·nnz·H forward, same for its weight gradient) and the
    # dense output layer (2·H·C forward, 2·H·C each for the input and weight gradients).
    sparse_flops = 4.0 * nnz * (h or n_labels)
    dense_flops = 6.0 * h * n_labels if h else 0.0
    rates = measure_rates(b, h or 256, n_labels)
    floor_head = n_train * (dense_flops / rates["gemm_flops"] + sparse_flops / rates["sparse_flops"])
    floor_loss = n_train * n_labels * args.loss_passes / rates["elementwise"]
    emit(
        {
            "stage": "profile",
            "loss": args.loss,
            "config": config,
            "batch_size": b,
            "steps_timed": steps,
            "tfidf_nnz_per_doc": round(nnz, 1),
            "features_in_sample": int(x.shape[1]),
            "head_features": int(n_features),
            "head_parameters": int(sum(p.numel() for p in head.parameters())),
            "featurise_s_for_sample": round(featurise_s, 1),
            "per_step_cpu_s": {k: round(v, 4) for k, v in per_step.items()},
            "share": {k: round(v / step_s, 3) for k, v in per_step.items()},
            "epoch_cpu_s_estimate": round(cpu_per_step * n_train / b, 1),
            "epoch_wall_s_estimate": round(wall_per_step * n_train / b, 1),
            "cpu_over_wall": round(cpu_per_step / wall_per_step, 3),
            "head_tflop_per_epoch": round(n_train * (sparse_flops + dense_flops) / 1e12, 3),
            "loss_gelem_per_epoch": round(n_train * n_labels / 1e9, 2),
            "rates": {k: round(v / 1e9, 3) for k, v in rates.items()},
            "floor_head_cpu_s": round(floor_head, 1),
            "floor_loss_cpu_s": round(floor_loss, 1),
            "loss_passes_assumed": args.loss_passes,
            "peak_rss_gib": round(peak_rss_gib(), 2),
        }
    )


def measure_rates(b: int, h: int, c: int, repeats: int = 5) -> dict[str, float]:
    """GEMM, sparse×dense and element-wise rates per CPU second (flop, flop, elements)."""
    import scipy.sparse as sp
    import torch

    def best(fn: Any) -> float:  # CPU seconds (all threads), robust to other jobs on the machine
        fn()
        times = []
        for _ in range(repeats):
            t = time.process_time()
            fn()
            times.append(time.process_time() - t)
        return max(statistics.median(times), 1e-6)

    a, w = torch.randn(b, h), torch.randn(h, c)
    gemm = 2.0 * b * h * c / best(lambda: a @ w)
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(b), 60)
    x = sp.csr_matrix(
        (rng.random(rows.size, dtype=np.float32), (rows, rng.integers(0, 20_000, rows.size))),
        shape=(b, 20_000),
    )
    x.sum_duplicates()
    emb = torch.randn(20_000, h)
    idx = torch.from_numpy(x.indices.astype(np.int64))
    off = torch.from_numpy(x.indptr[:-1].astype(np.int64))
    val = torch.from_numpy(x.data)
    sparse = (
        2.0
        * x.nnz
        * h
        / best(lambda: torch.nn.functional.embedding_bag(idx, emb, off, mode="sum", per_sample_weights=val))
    )
    z = torch.randn(b, c)
    elementwise = b * c / best(lambda: torch.sigmoid(z))
    return {"gemm_flops": gemm, "sparse_flops": sparse, "elementwise": elementwise}


def trained_like_scores(y: Any, seed: int = 0) -> np.ndarray:
    """Float32 probabilities shaped like a trained model's: sigmoid of N(−6, 1.8²) logits for the
    negative pairs and N(0.5, 2²) for the positive ones (as ``benchmarks/evaluation.py``)."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(y.shape, dtype=np.float32)
    logits *= 1.8
    logits -= 6.0
    rows, cols = y.nonzero()
    logits[rows, cols] = 0.5 + 2.0 * rng.standard_normal(rows.shape[0]).astype(np.float32)
    np.negative(logits, out=logits)
    np.exp(logits, out=logits)
    logits += 1.0
    np.reciprocal(logits, out=logits)
    return logits


def cmd_svm(args: argparse.Namespace) -> None:
    """CPU seconds per step of ``svm-sgd`` at PubMed size, on random TF-IDF-like rows and labels."""
    import scipy.sparse as sp

    from mlbalance.models.linear_svm import LinearSvmClassifier

    options = {"max_features": 20_000, "batch_size": 2048, **json.loads(args.model_options)}
    vocab, b, n_labels = options["max_features"], options["batch_size"], args.labels
    n = b * args.batches
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(n), args.nnz)
    x = sp.csr_matrix(
        (rng.random(rows.size, dtype=np.float32), (rows, rng.integers(0, vocab, rows.size))), shape=(n, vocab)
    )
    x.sum_duplicates()
    y_rows = np.repeat(np.arange(n), 12)
    y = sp.csr_matrix(
        (np.ones(y_rows.size, dtype=np.float32), (y_rows, rng.integers(0, n_labels, y_rows.size))),
        shape=(n, n_labels),
    )
    y.data[:] = 1.0
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # its first use imports torch._dynamo
    model = LinearSvmClassifier(max_epochs=1, batch_size=b, lr=0.1)
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    model.fit_features(x, y)
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    n_train = 214_897
    emit(
        {
            "stage": "svm-sgd",
            "features": vocab,
            "labels": n_labels,
            "batch_size": b,
            "steps": args.batches,
            "nnz_per_doc": round(x.nnz / n, 1),
            "cpu_s_per_step": round(cpu / args.batches, 2),
            "wall_s_per_step": round(wall / args.batches, 2),
            "epoch_cpu_s_estimate": round(cpu / args.batches * n_train / b, 1),
            "parameters_gb": round(4 * vocab * n_labels / 1e9, 2),
            "peak_rss_gib": round(peak_rss_gib(), 2),
        }
    )


def cmd_evaluate(args: argparse.Namespace) -> None:
    from mlbalance.data import load_corpus
    from mlbalance.evaluation import evaluate, tune_thresholds

    corpus = load_corpus(args.dataset, data=args.data, **json.loads(args.data_options))
    y = corpus.labels("test")
    stats = corpus.stats()
    scores = trained_like_scores(y)
    times: dict[str, list[float]] = {"tune": [], "evaluate": []}
    cpu0 = cpu_seconds()
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        thr = tune_thresholds(scores, y, method="grid", score_kind="probability")
        t1 = time.perf_counter()
        rows = evaluate(scores, y, stats, thr, split="test")
        t2 = time.perf_counter()
        times["tune"].append(t1 - t0)
        times["evaluate"].append(t2 - t1)
    emit(
        {
            "stage": "evaluate",
            "shape": list(scores.shape),
            "dtype": str(scores.dtype),
            "tune_s": round(statistics.median(times["tune"]), 3),
            "evaluate_s": round(statistics.median(times["evaluate"]), 3),
            "total_s": round(statistics.median(a + b for a, b in zip(times["tune"], times["evaluate"])), 3),
            "cpu_s_per_repeat": round((cpu_seconds() - cpu0) / args.repeats, 3),
            "rows": len(rows),
            "micro_f1": round(rows[0]["micro_f1"], 4),
            "peak_rss_gib": round(peak_rss_gib(), 2),
        }
    )


def cmd_oof(args: argparse.Namespace) -> None:
    """``per-label-cv`` and ``micromacro-cv`` at PubMed size on out-of-fold scores kept as top lists.

    The out-of-fold scores are trained-like (:func:`trained_like_scores`) over the corpus's real
    training labels, made block by block and cut to each document's ``OOF_TOP_K`` highest scores and
    its labels' as ``cross_fit`` keeps them; the fold models' validation medians are the validation
    medians moved by noise. Times each method's ``tune`` and reports the peak memory.
    """
    from mlbalance.evaluation.thresholding import OutOfFold, Scored, get_thresholder
    from mlbalance.evaluation.thresholding.base import keep_top_scores
    from mlbalance.out_of_fold import _SCORE_BLOCK_ENTRIES, OOF_TOP_K, fold_assignment, oof_top_k

    corpus, load_s = load(args.dataset, args.data, json.loads(args.data_options))
    y_train, y_val = corpus.labels("train"), corpus.labels("validation")
    n, n_labels = y_train.shape
    k = oof_top_k(n, n_labels) or OOF_TOP_K
    folds = fold_assignment(n, args.cv_folds)
    start = time.perf_counter()
    step = max(1, _SCORE_BLOCK_ENTRIES // n_labels)
    blocks, block_rows = [], []
    unstored = np.full((args.cv_folds, n_labels), -np.inf)
    for fold in range(args.cv_folds):  # as cross_fit scores: fold by fold, block by block
        held_out = np.flatnonzero(folds == fold)
        for a in range(0, held_out.size, step):
            rows = held_out[a : a + step]
            kept, block_unstored = keep_top_scores(
                trained_like_scores(y_train[rows], seed=a + fold), y_train[rows], k
            )
            blocks.append(kept)
            block_rows.append(rows)
            np.maximum(unstored[fold], block_unstored, out=unstored[fold])
    import scipy.sparse as sp

    s_oof = sp.vstack(blocks, format="csr")[np.argsort(np.concatenate(block_rows), kind="stable")]
    keep_s = time.perf_counter() - start
    s_val = trained_like_scores(y_val, seed=10**6)
    rng = np.random.default_rng(1)
    medians = np.median(s_val, axis=0)[None, :] * rng.uniform(0.8, 1.0, (args.cv_folds, n_labels))
    oof = OutOfFold(s_oof, y_train, folds, medians, unstored)
    val = Scored.checked(s_val, y_val)
    record: dict[str, Any] = {
        "stage": "oof",
        "corpus_s": round(load_s, 1),
        "train": n,
        "validation": int(y_val.shape[0]),
        "labels": n_labels,
        "top_k": k,
        "folds": args.cv_folds,
        "kept_entries": int(s_oof.nnz),
        "kept_gib": round((s_oof.data.nbytes + s_oof.indices.nbytes + s_oof.indptr.nbytes) / 2**30, 3),
        "dense_gib": round(4 * n * n_labels / 2**30, 2),
        "make_and_keep_s": round(keep_s, 1),
        "peak_rss_gib_before_tuning": round(peak_rss_gib(), 2),
    }
    for method in ("per-label-cv", "micromacro-cv"):
        t0 = time.perf_counter()
        thr = get_thresholder(method).tune(val, oof)
        record[f"{method}_s"] = round(time.perf_counter() - t0, 1)
        record[f"{method}_validation_micro_f1"] = round(100 * (thr.validation_micro_f1 or 0.0), 2)
        record[f"peak_rss_gib_after_{method}"] = round(peak_rss_gib(), 2)
    emit(record)


def cmd_bioasq(args: argparse.Namespace) -> None:
    from mlbalance.evaluation import evaluate, tune_thresholds
    from mlbalance.models.tfidf import TfidfClassifier

    path = Path(args.data)
    if args.write:
        from mlbalance.data.synthetic import write_bioasq_file

        start = time.perf_counter()
        write_bioasq_file(path, args.write, n_labels=args.labels, seed=0)
        emit(
            {
                "stage": "write",
                "articles": args.write,
                "seconds": round(time.perf_counter() - start, 1),
                "peak_rss_gib": round(peak_rss_gib(), 2),
            }
        )
    size = path.stat().st_size
    corpus, load_s = load("bioasq", str(path), {})
    emit(
        {
            "stage": "stream",
            "file_gb": round(size / 1e9, 3),
            "seconds": round(load_s, 1),
            "train": len(corpus.train),
            "validation": len(corpus.validation),
            "test": len(corpus.test),
            "labels": len(corpus.label_space),
            "metadata": {k: v for k, v in corpus.metadata.items() if isinstance(v, (int, float, str))},
            "peak_rss_gib": round(peak_rss_gib(), 2),
        }
    )
    config = {**SCALE_TFIDF, **json.loads(args.model_options)}
    model = TfidfClassifier(loss=args.loss, max_epochs=args.epochs, patience=args.epochs, **config)
    start = time.perf_counter()
    model.fit(corpus)
    fit_s = time.perf_counter() - start
    emit(
        {
            "stage": "train",
            "loss": args.loss,
            "epochs": args.epochs,
            "config": config,
            "seconds": round(fit_s, 1),
            "peak_rss_gib": round(peak_rss_gib(), 2),
        }
    )
    start = time.perf_counter()
    s_val = model.scores(corpus.validation.texts)
    thr = tune_thresholds(s_val, corpus.labels("validation"), method="grid", score_kind="probability")
    rows = evaluate(model.scores(corpus.test.texts), corpus.labels("test"), model.stats_, thr, split="test")
    emit(
        {
            "stage": "evaluate",
            "seconds": round(time.perf_counter() - start, 1),
            "scores_dtype": str(s_val.dtype),
            "test": {
                r["group"]: [round(100 * r["micro_f1"], 2), round(100 * r["macro_f1"], 2)] for r in rows
            },
            "peak_rss_gib": round(peak_rss_gib(), 2),
        }
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("epoch", "profile", "evaluate", "bioasq", "svm", "oof"):
        p = sub.add_parser(name)
        p.add_argument("--dataset", default="synthetic:pubmed-like")
        p.add_argument("--data", default=None)
        p.add_argument("--data-options", default="{}", help="JSON keyword arguments of load_corpus")
        p.add_argument("--model-options", default="{}", help="JSON overrides of the TF-IDF settings")
        p.add_argument(
            "--alternate",
            action="append",
            default=[],
            help="epoch: further --model-options to fit in turn with the first, in one process",
        )
        p.add_argument("--rounds", type=int, default=1, help="epoch: times to fit each setting, in turn")
        p.add_argument(
            "--flush-denormal",
            action="store_true",
            help="epoch: torch.set_flush_denormal(True) (subnormal floats read and written as zero)",
        )
        p.add_argument("--loss", default="db")
        p.add_argument("--epochs", type=int, default=1)
        p.add_argument("--max-batches", type=int, default=None)
        p.add_argument("--batches", type=int, default=20)
        p.add_argument(
            "--loss-passes",
            type=int,
            default=3,
            help="element-wise passes of a fused loss forward + backward (profile's floor: read "
            "logits and targets, write the gradient)",
        )
        p.add_argument("--repeats", type=int, default=3)
        p.add_argument("--write", type=int, default=0, help="bioasq: first write a file of N articles")
        p.add_argument("--labels", type=int, default=18_211)
        p.add_argument(
            "--vocabulary", type=int, default=None, help="profile: first-layer rows (default: the cap)"
        )
        p.add_argument("--nnz", type=int, default=55, help="svm: non-zeros per TF-IDF row")
        p.add_argument("--cv-folds", type=int, default=10, help="oof: folds of the out-of-fold scores")
    args = parser.parse_args(argv)
    {
        "epoch": cmd_epoch,
        "profile": cmd_profile,
        "evaluate": cmd_evaluate,
        "bioasq": cmd_bioasq,
        "svm": cmd_svm,
        "oof": cmd_oof,
    }[args.command](args)


if __name__ == "__main__":
    main()
