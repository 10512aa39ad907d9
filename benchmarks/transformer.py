"""Speed and quality of the transformer model (``mlbalance.models.transformer``).

Sub-commands (each prints a JSON line per measurement; results go to BENCHMARKS.md by hand):

``throughput``  CPU training throughput (real tokens/s) of an encoder at given max lengths: a fixed
                number of optimiser steps over length-bucketed Reuters batches, median step time.
``epoch``       One Reuters epoch with and without length bucketing (and with every document padded
                to ``max_length``): a random sample of the epoch's batches is timed and the mean batch
                time is extrapolated to all of the epoch's batches (said in the output).
``gpu``         One full Reuters epoch on a GPU (BERT-base-sized random ``BertConfig()`` and/or
                ``minilm``), max length 512, batch 32, bf16: time and tokens/s.
``quality``     Fine-tune an encoder on Reuters with one loss, then write the validation/test
                scores, the tuned threshold and the Table 2 rows into ``--out``.
``table``       Table 2 (Markdown, beside the paper's numbers) of ``quality`` output folders.

Examples:
    python benchmarks/transformer.py throughput --lengths 128 512 --steps 4
    python benchmarks/transformer.py epoch --max-length 128 --sample 12
    python benchmarks/transformer.py gpu --encoders bert-base minilm
    nice -n 10 python benchmarks/transformer.py quality --loss db --max-length 32 --max-epochs 2 \
        --out runs/tq-db
    python benchmarks/transformer.py table runs/tq-db runs/tq-bce
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REUTERS = os.environ.get(
    "MLBALANCE_REUTERS", str(Path(__file__).resolve().parents[1] / "../shared/data/reuters21578.tar.gz")
)


def _emit(**row) -> None:
    print(json.dumps(row), flush=True)


def _corpus(path: str):
    from mlbalance.data import load_corpus

    return load_corpus("reuters21578", data=path)


def _encoder_folder(name: str, tmp: str) -> str:
    """``bert-base``: a random-weight BERT-base-sized encoder saved with minilm's tokenizer."""
    if name != "bert-base":
        return name
    from transformers import AutoTokenizer, BertConfig, BertModel

    from mlbalance.models.transformer import resolve_encoder

    folder = Path(tmp) / "bert-base-random"
    if not folder.exists():
        BertModel(BertConfig()).save_pretrained(folder)  # defaults: 12 layers, hidden 768, vocab 30522
        AutoTokenizer.from_pretrained(resolve_encoder("minilm")[0]).save_pretrained(folder)
    return str(folder)


def _setup(encoder: str, corpus, max_length: int, precision: str = "fp32"):
    """The network, optimiser, tokens and labels as ``fit`` builds them, on the best device."""
    import torch

    from mlbalance.models.transformer import TransformerClassifier, parameter_groups

    clf = TransformerClassifier(encoder=encoder, max_length=max_length, precision=precision)
    s = clf.settings()
    model, clf.tokenizer_ = clf._build_network(len(corpus.label_space), s)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).train()
    opt = torch.optim.AdamW(parameter_groups(model, 0.01), lr=1e-5)
    t0 = time.perf_counter()
    tokens = clf._tokens(corpus.train.texts, max_length)
    tok_s = time.perf_counter() - t0
    return model, opt, tokens, corpus.labels("train"), device, tok_s


def _step(model, opt, tokens, y, batch, device, dtype=None, pad_to=None, update=True) -> int:
    import torch
    import torch.nn.functional as F

    from mlbalance.models.text_batches import collate

    ids, mask = collate(tokens, batch, pad_to=pad_to)
    with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        logits = model(torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device))
    loss = F.binary_cross_entropy_with_logits(logits.float(), torch.from_numpy(y[batch].toarray()).to(device))
    loss.backward()
    if update:
        opt.step()
    opt.zero_grad(set_to_none=True)
    return int(mask.sum())


def cmd_throughput(args) -> None:
    from mlbalance.models.text_batches import train_steps

    corpus = _corpus(args.data)
    for max_length in args.lengths:
        model, opt, tokens, y, device, _ = _setup(args.encoder, corpus, max_length)
        steps = [s[0] for s in train_steps(tokens.lengths, args.batch_size, 1, 0, 1)]
        rng = np.random.default_rng(0)
        chosen = rng.choice(len(steps), size=args.steps + 1, replace=False)
        _step(model, opt, tokens, y, steps[chosen[0]], device)  # warm-up
        times, counts = [], []
        for i in chosen[1:]:
            t0 = time.perf_counter()
            counts.append(_step(model, opt, tokens, y, steps[i], device))
            times.append(time.perf_counter() - t0)
        rates = [c / t for c, t in zip(counts, times)]
        _emit(
            bench="throughput",
            encoder=args.encoder,
            max_length=max_length,
            batch_size=args.batch_size,
            steps=args.steps,
            median_tokens_per_s=round(statistics.median(rates), 1),
            median_step_s=round(statistics.median(times), 3),
            threads=_threads(),
        )


def cmd_epoch(args) -> None:
    from transformers import AutoTokenizer

    from mlbalance.models.text_batches import TokenCache, train_steps
    from mlbalance.models.transformer import resolve_encoder

    corpus = _corpus(args.data)

    def plans(lengths, max_length):
        bucketed = [s[0] for s in train_steps(lengths, args.batch_size, 1, 0, 1)]
        shuffled = [s[0] for s in train_steps(lengths, args.batch_size, 1, 0, 1, bucketing=False)]
        return {
            "bucketed": (bucketed, None),
            "random": (shuffled, None),
            "pad-to-max": (shuffled, max_length),
        }

    def padded(batches, pad_to, lengths):
        return int(sum((pad_to or int(lengths[b].max())) * len(b) for b in batches))

    # exact padded-token counts per epoch (what the encoder computes), for every length asked
    tok = AutoTokenizer.from_pretrained(resolve_encoder(args.encoder)[0])
    for max_length in args.count_lengths:
        lengths = TokenCache().tokenize(tok, corpus.train.texts, max_length).lengths
        for name, (batches, pad_to) in plans(lengths, max_length).items():
            _emit(
                bench="padding",
                plan=name,
                max_length=max_length,
                batch_size=args.batch_size,
                real_tokens=int(lengths.sum()),
                padded_tokens=padded(batches, pad_to, lengths),
            )
    if not args.sample:
        return
    model, opt, tokens, y, device, tok_s = _setup(args.encoder, corpus, args.max_length)
    _emit(bench="tokenize", n_docs=len(tokens), max_length=args.max_length, seconds=round(tok_s, 2))
    lengths = tokens.lengths
    epoch_plans = plans(lengths, args.max_length)
    rng = np.random.default_rng(1)
    samples = {k: rng.choice(len(v[0]), size=args.sample, replace=False) for k, v in epoch_plans.items()}
    _step(model, opt, tokens, y, epoch_plans["random"][0][0], device)  # warm-up
    per_token = {k: [] for k in epoch_plans}
    # interleave the plans so that load from other processes hits them alike
    for j in range(args.sample):
        for name, (batches, pad_to) in epoch_plans.items():
            batch = batches[samples[name][j]]
            t0 = time.perf_counter()
            _step(model, opt, tokens, y, batch, device, pad_to=pad_to, update=not args.no_update)
            per_token[name].append((time.perf_counter() - t0) / padded([batch], pad_to, lengths))
    for name, (batches, pad_to) in epoch_plans.items():
        n_padded = padded(batches, pad_to, lengths)
        _emit(
            bench="epoch",
            plan=name,
            encoder=args.encoder,
            max_length=args.max_length,
            batch_size=args.batch_size,
            n_batches=len(batches),
            timed_batches=args.sample,
            padded_tokens=n_padded,
            real_tokens=int(lengths.sum()),
            median_ms_per_padded_token=round(1e3 * statistics.median(per_token[name]), 3),
            est_epoch_s=round(n_padded * statistics.median(per_token[name]), 1),
            note="padded tokens of the epoch x median time per padded token of the timed batches",
            optimizer_step=not args.no_update,
            threads=_threads(),
        )


def cmd_gpu(args) -> None:
    import torch

    from mlbalance.models.text_batches import train_steps

    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        sys.exit("no GPU visible (--allow-cpu runs the same code on the CPU, as a smoke test)")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    corpus = _corpus(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.encoders:
            folder = _encoder_folder(name, tmp)
            model, opt, tokens, y, device, _ = _setup(folder, corpus, args.max_length, precision="bf16")
            if args.compile:
                model.compile(dynamic=True)
            steps = [s[0] for s in train_steps(tokens.lengths, args.batch_size, 1, 0, 1)]
            steps = steps[: args.max_batches] if args.max_batches else steps
            for b in steps[:3]:
                _step(model, opt, tokens, y, b, device, dtype=torch.bfloat16)  # warm-up
            sync()
            t0 = time.perf_counter()
            n_tok = sum(_step(model, opt, tokens, y, b, device, dtype=torch.bfloat16) for b in steps)
            sync()
            sec = time.perf_counter() - t0
            _emit(
                bench="gpu-epoch",
                encoder=name,
                device=torch.cuda.get_device_name() if cuda else "cpu",
                n_batches=len(steps),
                max_length=args.max_length,
                batch_size=args.batch_size,
                precision="bf16",
                compile=args.compile,
                epoch_s=round(sec, 2),
                tokens_per_s=round(n_tok / sec),
                params_m=round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
            )
            del model, opt
            if cuda:
                torch.cuda.empty_cache()


def cmd_quality(args) -> None:
    import torch

    from mlbalance.evaluation import evaluate, tune_thresholds
    from mlbalance.models.transformer import TransformerClassifier

    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = _corpus(args.data)
    clf = TransformerClassifier(
        encoder=args.encoder,
        loss=args.loss,
        recipe="paper",
        max_length=args.max_length,
        max_epochs=args.max_epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        cache_dir=str(out / "token-cache"),
    )
    t0 = time.perf_counter()

    def progress(stage, done, total, **info):
        if stage.startswith("epoch") and (done % 20 == 0 or done == total):
            _emit(stage=stage, done=done, total=total, elapsed_s=round(time.perf_counter() - t0))
        elif stage == "train":
            _emit(stage=stage, epoch=done, elapsed_s=round(time.perf_counter() - t0), **info)

    clf.fit(corpus, progress=progress, checkpoint_dir=out / "checkpoints", resume=True)
    train_s = time.perf_counter() - t0
    val = clf.scores(corpus.validation.texts)
    test = clf.scores(corpus.test.texts)
    np.savez_compressed(out / "scores.npz", validation=val, test=test)
    clf.save(out / "model")
    th = tune_thresholds(val, corpus.labels("validation"), method="grid", score_kind="probability")
    rows = evaluate(test, corpus.labels("test"), clf.stats_, th, split="test")
    for row in rows:
        row.update(model=f"transformer-{args.encoder}", loss=args.loss)
    (out / "rows.json").write_text(json.dumps(rows, indent=1))
    (out / "history.json").write_text(json.dumps(clf.history_, indent=1))
    _emit(
        bench="quality",
        loss=args.loss,
        train_s=round(train_s),
        best_epoch=clf.best_epoch_,
        command=" ".join(sys.argv),
    )


def cmd_table(args) -> None:
    """Table 2 of ``quality`` folders; ``--threshold`` re-tunes on the saved validation scores."""
    from mlbalance.evaluation import evaluate, tune_thresholds
    from mlbalance.evaluation.report import table2_markdown

    corpus = _corpus(args.data) if args.threshold != "grid" else None
    rows = []
    for folder in args.folders:
        folder = Path(folder)
        saved = json.loads((folder / "rows.json").read_text())
        if corpus is None:
            rows.extend(saved)
            continue
        scores = np.load(folder / "scores.npz")
        th = tune_thresholds(scores["validation"], corpus.labels("validation"), method=args.threshold)
        for row in evaluate(scores["test"], corpus.labels("test"), corpus.stats(), th, split="test"):
            row.update(model=saved[0]["model"], loss=f"{saved[0]['loss']} ({args.threshold})")
            rows.append(row)
    print(table2_markdown(rows, reference="reuters"))


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=REUTERS, help="Reuters-21578 archive")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--encoder", default="minilm")
    p.add_argument("--lengths", type=int, nargs="+", default=[128, 512])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=4)
    p.set_defaults(func=cmd_throughput)
    p = sub.add_parser("epoch")
    p.add_argument("--encoder", default="minilm")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--sample", type=int, default=10, help="batches timed per plan (0: count padding only)")
    p.add_argument("--no-update", action="store_true", help="time forward + backward only (no AdamW step)")
    p.add_argument(
        "--count-lengths", type=int, nargs="*", default=[128, 512], help="max lengths to count padding at"
    )
    p.set_defaults(func=cmd_epoch)
    p = sub.add_parser("gpu")
    p.add_argument("--encoders", nargs="+", default=["bert-base", "minilm"])
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--max-batches", type=int, default=0, help="time only the first N batches (0: all)")
    p.add_argument("--allow-cpu", action="store_true", help="run on the CPU when no GPU is visible")
    p.set_defaults(func=cmd_gpu)
    p = sub.add_parser("quality")
    p.add_argument("--encoder", default="minilm")
    p.add_argument("--loss", default="db")
    p.add_argument("--max-length", type=int, default=32)
    p.add_argument("--max-epochs", type=int, default=2)
    p.add_argument("--patience", type=int, default=None, help="early-stopping patience (default: 5)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_quality)
    p = sub.add_parser("table")
    p.add_argument("folders", nargs="+")
    p.add_argument("--threshold", default="grid", help="grid (as saved) or another tune_thresholds method")
    p.set_defaults(func=cmd_table)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
