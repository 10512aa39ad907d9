"""Loss + output-layer step time when scores sit far below zero (subnormal gradients).

A batch of ``--batch`` documents through ``nn.Linear(256, 18211)`` and a balancing loss, backward
included, with every output bias at 0 and at ``--low`` (rare labels near their priors). Before the
fused loss flushed gradients below float32's smallest normal number to zero, DB and CB-NTR were an
order of magnitude slower at the low scores (docs/scale.md, *Where the time goes*).

    python benchmarks/subnormal_gradients.py --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.sparse as sp
import torch

from mlbalance.data.stats import LabelStats
from mlbalance.losses import get_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=18_211)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--low", type=float, default=-12.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--losses", default="bce,focal,db,cb-ntr")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    n_labels = args.labels
    y = sp.random(20_000, n_labels, density=12 / n_labels, format="csr", random_state=0)
    y.data[:] = 1
    stats = LabelStats.from_labels(y, [f"l{i}" for i in range(n_labels)])
    targets = torch.from_numpy((rng.random((args.batch, n_labels)) < 12 / n_labels).astype(np.float32))
    out = torch.nn.Linear(256, n_labels)
    hidden = torch.rand(args.batch, 256) * 0.1
    for name in args.losses.split(","):
        loss = get_loss(name, stats, dataset="pubmed")
        for bias in (0.0, args.low):
            with torch.no_grad():
                out.bias.fill_(bias)
            times = []
            for _ in range(args.repeats + 1):
                out.zero_grad()
                start = time.perf_counter()
                loss(out(hidden), targets).backward()
                times.append(time.perf_counter() - start)
            ms = 1000 * statistics.median(times[1:])
            median_of = f"median of {args.repeats}"
            print(f"{name:8s} bias {bias:6.1f}: {ms:9.1f} ms per step of {args.batch} ({median_of})")


if __name__ == "__main__":
    main()
