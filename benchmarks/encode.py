"""How fast a frozen encoder turns all Reuters-21578 texts into vectors, float32 against bfloat16.

Encodes every text of the default split (train + validation + test) with
:class:`mlbalance.models.sentence_encoder.SentenceEncoder` once per precision, into a fresh vector
cache, and reports the wall and CPU seconds, texts/s and how close the bfloat16 vectors are to the
float32 ones (cosine). Then, for each precision, trains the ``embedding`` model (``--loss``, the
paper's grid) on the cached vectors and reports its test micro / macro-F1, so a precision is kept
only if it keeps F1. Prints one JSON line per measurement.

Example::

    python benchmarks/encode.py --max-length 256 --precisions float32 bfloat16
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

REUTERS = os.environ.get(
    "MLBALANCE_REUTERS", str(Path(__file__).resolve().parents[1] / "../shared/data/reuters21578.tar.gz")
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=REUTERS, help="the Reuters-21578 archive")
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--loss", default="cb-ntr", help="the embedding model's loss for the F1 check")
    parser.add_argument("--no-train", action="store_true", help="only time the encoding")
    args = parser.parse_args(argv)

    import torch

    from mlbalance.data import load_corpus
    from mlbalance.experiment import train
    from mlbalance.models.sentence_encoder import SentenceEncoder

    corpus = load_corpus("reuters21578", args.data)
    texts = [*corpus.train.texts, *corpus.validation.texts, *corpus.test.texts]
    vectors = {}
    with tempfile.TemporaryDirectory(prefix="mlbalance-encode-") as cache:
        for precision in args.precisions:
            encoder = SentenceEncoder(
                args.encoder,
                args.max_length,
                batch_size=args.batch_size,
                precision=precision,
                cache_dir=cache,
            )
            start, cpu = time.perf_counter(), time.process_time()
            vectors[precision] = encoder.encode(texts)
            seconds = time.perf_counter() - start
            row = {
                "case": "encode",
                "precision": precision,
                "max_length": args.max_length,
                "texts": len(texts),
                "seconds": round(seconds, 1),
                "cpu_seconds": round(time.process_time() - cpu, 1),
                "texts_per_s": round(len(texts) / seconds, 1),
                "threads": torch.get_num_threads(),
                "load_average": os.getloadavg(),
            }
            print(json.dumps(row), flush=True)
        if "float32" in vectors:
            for precision, v in vectors.items():
                if precision != "float32":
                    a, b = vectors["float32"], v
                    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
                    print(
                        json.dumps(
                            {
                                "case": "agreement",
                                "precision": precision,
                                "cosine_mean": float(cosine.mean()),
                                "cosine_min": float(cosine.min()),
                            }
                        ),
                        flush=True,
                    )
        if args.no_train:
            return
        for precision in args.precisions:
            run = train(
                corpus,
                model="embedding",
                loss=args.loss,
                encoder=args.encoder,
                max_length=args.max_length,
                precision=precision,
                cache_dir=cache,
            )
            total = next(r for r in run.metrics if r["split"] == "test" and r["group"] == "total")
            print(
                json.dumps(
                    {
                        "case": "embedding model",
                        "precision": precision,
                        "loss": args.loss,
                        "test_micro_f1": round(100 * total["micro_f1"], 2),
                        "test_macro_f1": round(100 * total["macro_f1"], 2),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
