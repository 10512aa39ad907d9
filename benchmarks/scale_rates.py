"""This machine's matrix-multiply rates, the denominators of the physical floor in ``docs/scale.md``.

Measures, with PyTorch on the CPU (all threads it uses by default):

* dense GEMM ``(B, H) @ (H, C)`` in float32 (the hidden-layer head's output layer);
* sparse × dense ``X_batch @ W`` with a CSR batch of TF-IDF-like rows (``nnz`` non-zeros per row)
  and a dense ``(V, C)`` weight (the linear head / the all-labels SVM), and its transpose product
  ``X_batch.T @ G`` (the weight gradient);
* the element-wise rate of a ``(B, C)`` float32 kernel (``sigmoid``), the unit of the losses' cost.

Each rate is the median of ``--repeats`` timings. Prints one JSON line per measurement.

Example::

    python benchmarks/scale_rates.py --labels 18211 --batch 512
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def csr_tensor(x: sp.csr_matrix) -> torch.Tensor:
    return torch.sparse_csr_tensor(
        torch.from_numpy(x.indptr.astype(np.int64)),
        torch.from_numpy(x.indices.astype(np.int64)),
        torch.from_numpy(x.data.astype(np.float32)),
        size=x.shape,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=18_211)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--vocab", type=int, default=20_000)
    parser.add_argument("--nnz", type=int, default=60, help="non-zeros per TF-IDF row")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    b, c, h, v = args.batch, args.labels, args.hidden, args.vocab
    threads = torch.get_num_threads()

    a = torch.randn(b, h)
    w = torch.randn(h, c)
    t = median_seconds(lambda: a @ w, args.repeats)
    flops = 2.0 * b * h * c
    print(
        json.dumps(
            {
                "op": "dense_gemm",
                "shape": [b, h, c],
                "seconds": t,
                "gflops": flops / t / 1e9,
                "threads": threads,
            }
        )
    )

    rows = np.repeat(np.arange(b), args.nnz)
    cols = rng.integers(0, v, size=rows.shape[0])
    x = sp.csr_matrix((rng.random(rows.shape[0], dtype=np.float32), (rows, cols)), shape=(b, v))
    x.sum_duplicates()
    xt = x.T.tocsr()
    wv = torch.randn(v, c)
    g = torch.randn(b, c)
    xs, xts = csr_tensor(x), csr_tensor(xt)
    nnz = x.nnz
    t = median_seconds(lambda: torch.sparse.mm(xs, wv), args.repeats)
    print(
        json.dumps(
            {
                "op": "sparse_x_dense",
                "shape": [b, v, c],
                "nnz": nnz,
                "seconds": t,
                "gflops": 2.0 * nnz * c / t / 1e9,
                "threads": threads,
            }
        )
    )
    t = median_seconds(lambda: torch.sparse.mm(xts, g), args.repeats)
    print(
        json.dumps(
            {
                "op": "sparse_t_x_dense",
                "shape": [v, b, c],
                "nnz": nnz,
                "seconds": t,
                "gflops": 2.0 * nnz * c / t / 1e9,
                "threads": threads,
            }
        )
    )
    wn = wv.numpy()
    t = median_seconds(lambda: x @ wn, max(1, args.repeats // 2))
    print(
        json.dumps(
            {
                "op": "scipy_sparse_x_dense",
                "shape": [b, v, c],
                "nnz": nnz,
                "seconds": t,
                "gflops": 2.0 * nnz * c / t / 1e9,
                "threads": 1,
            }
        )
    )
    z = torch.randn(b, c)
    t = median_seconds(lambda: torch.sigmoid(z), args.repeats)
    print(
        json.dumps(
            {
                "op": "elementwise_sigmoid",
                "elements": b * c,
                "seconds": t,
                "gelem_per_s": b * c / t / 1e9,
                "threads": threads,
            }
        )
    )


if __name__ == "__main__":
    main()
