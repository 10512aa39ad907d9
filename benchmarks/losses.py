"""Forward + backward time and peak memory of the balancing losses, beside plain BCE, in one run.

For each logits shape — (32, 90) (Reuters), (32, 18211) and (256, 18211) (PubMed) — and every preset,
one call is ``loss(logits, targets).backward()`` with logits that require a gradient. Three families
of callables are timed, round by round so that machine load hits them alike:

- ``bce``: ``torch.nn.functional.binary_cross_entropy_with_logits`` (the reference speed);
- ``mlbalance``: ``get_loss(name, class_freq, n_train, dataset)`` — the fused kernel (every name of
  ``ALL_LOSS_NAMES``: the paper's eight and asl, zlpr, logit-adjusted);
- ``eager``: a straightforward eager composition of PAPER.md's formula for the same preset (dense
  weights, ``torch.where`` over positive/negative terms, autograd for the backward) — the baseline,
  for the paper's presets.

BCE and the fused losses are interleaved in one set of rounds; the eager baselines, each allocating
hundreds of MiB per call, in a second set (beside BCE again), so that their allocations and cache
traffic do not land on the calls they are compared with (as in training, where a loss runs beside the
model, not beside another loss). Ratios to BCE come from the first set.

Targets are drawn with the datasets' density (≈1.24 labels per document for 90 labels, ≈12.3 for
18,211) from a long-tailed label distribution. Time is the median over ``--repeat`` rounds (after
``--warmup``); the ratio columns divide medians of the same run. The CPU columns do the same with
the process's CPU time (all threads), which waiting for a busy machine inflates less than wall time.
Peak memory is the most resident memory added by one forward + backward (the gradient included, the
inputs not), measured in a separate process (Linux ``VmHWM``, reset before each call, with glibc set
to hand freed tensors back at once).

Examples::

    python benchmarks/losses.py                      # all shapes, all presets, 2 threads
    python benchmarks/losses.py --shapes 256x18211 --presets bce,db --repeat 30
    python benchmarks/losses.py --json out.json      # also write the raw numbers
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from mlbalance.losses import ALL_LOSS_NAMES, get_loss
from mlbalance.losses.presets import DATASET_SETTINGS, PRESETS

LABELS_PER_DOC = {90: 1.24, 18211: 12.3}


def make_problem(n_docs: int, n_labels: int, seed: int = 0):
    """Logits, targets, class frequencies and N for a long-tailed problem of this shape."""
    rng = np.random.default_rng(seed)
    n_train = 7000 if n_labels <= 1000 else 200_000
    popularity = 1.0 / np.arange(1, n_labels + 1) ** 1.1
    popularity /= popularity.sum()
    class_freq = np.maximum(1, np.round(popularity * n_train * LABELS_PER_DOC.get(n_labels, 2.0))).astype(int)
    class_freq = np.minimum(class_freq, n_train)
    per_doc = max(1, round(LABELS_PER_DOC.get(n_labels, 2.0)))
    targets = np.zeros((n_docs, n_labels), dtype=np.float32)
    for k in range(n_docs):
        count = max(1, rng.poisson(per_doc))
        targets[k, rng.choice(n_labels, size=min(count, n_labels), replace=False, p=popularity)] = 1
    logits = torch.from_numpy(rng.normal(-4.0, 2.0, (n_docs, n_labels)).astype(np.float32))
    return logits, torch.from_numpy(targets), class_freq, n_train


def eager_loss(name: str, class_freq: np.ndarray, n_train: int, dataset: str = "reuters") -> Callable:
    """A straightforward eager composition of PAPER.md's formula for a preset (the baseline)."""
    s = DATASET_SETTINGS[dataset]
    spec = PRESETS[name]
    gamma = s["gamma"] if spec["focal"] else 0.0
    freq = torch.tensor(class_freq, dtype=torch.float32).clamp_min(1)
    cb = (1 - s["cb_beta"]) / (1 - s["cb_beta"] ** freq)
    prior = freq.clamp(0.5, n_train - 0.5) / n_train
    bias = s["ntr_kappa"] * torch.log(1 / prior - 1) if spec["ntr"] else torch.zeros_like(freq)
    lam = s["ntr_lambda"] if spec["ntr"] else 1.0

    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        y = targets.float()
        shifted = logits - bias
        pos = -((1 - torch.sigmoid(shifted)) ** gamma) * F.logsigmoid(shifted)
        neg = -(torch.sigmoid(lam * shifted) ** gamma) * F.logsigmoid(-lam * shifted) / lam
        elem = torch.where(y.bool(), pos, neg)
        if spec["reweight"] == "cb":
            elem = elem * cb
        elif spec["reweight"] == "rebalance":
            repeat = (y / freq).sum(dim=1, keepdim=True)
            r_db = (1 / freq) / repeat
            elem = elem * (s["rebalance_alpha"] + torch.sigmoid(s["rebalance_beta"] * (r_db - s["mu"])))
        return elem.mean()

    return loss


def fwd_bwd(fn: Callable, logits: torch.Tensor, targets: torch.Tensor) -> None:
    z = logits.detach().requires_grad_()
    fn(z, targets).backward()


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_mib(fn: Callable, logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Peak resident memory added by one forward + backward (Linux: VmHWM after resetting it)."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # resets the high-water mark VmHWM to the current VmRSS
    base = _status_kib("VmRSS")
    fwd_bwd(fn, logits, targets)
    return max(0, _status_kib("VmHWM") - base) / 1024


def memory_in_subprocess(shape: str, presets: list[str], eager: bool) -> dict[str, float] | None:
    """Peak memory of every callable for ``shape``, measured in a fresh process where glibc returns
    freed tensors to the system at once (``MALLOC_MMAP_THRESHOLD_``), so resident memory tracks the
    tensors alive."""
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    cmd = [sys.executable, __file__, "--memory-of", shape, "--presets", ",".join(presets)]
    if not eager:
        cmd.append("--no-eager")
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        print(f"# memory measurement failed: {proc.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout)


def callables(shape: str, presets: list[str], eager: bool):
    n_docs, n_labels = (int(x) for x in shape.lower().split("x"))
    logits, targets, class_freq, n_train = make_problem(n_docs, n_labels)
    dataset = "reuters" if n_labels <= 1000 else "pubmed"
    fns: dict[str, Callable] = {"bce": F.binary_cross_entropy_with_logits}
    for name in presets:
        fns[f"mlbalance:{name}"] = get_loss(name, class_freq, n_train, dataset=dataset)
        if eager and name in PRESETS:  # the losses after the paper have no eager baseline here
            fns[f"eager:{name}"] = eager_loss(name, class_freq, n_train, dataset)
    return fns, logits, targets


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shapes", default="32x90,32x18211,256x18211", help="comma-separated BxC")
    parser.add_argument("--presets", default=",".join(ALL_LOSS_NAMES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--no-eager", action="store_true", help="skip the eager baseline")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)  # internal: the memory subprocess
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    presets = [p for p in args.presets.split(",") if p]
    for name in presets:
        if name not in ALL_LOSS_NAMES:
            parser.error(f"unknown preset {name!r}; valid: {', '.join(ALL_LOSS_NAMES)}")
    if args.memory_of:
        fns, logits, targets = callables(args.memory_of, presets, not args.no_eager)
        for fn in fns.values():  # warm up: first calls allocate caches that are not per-call memory
            fwd_bwd(fn, logits, targets)
        print(json.dumps({key: peak_mib(fn, logits, targets) for key, fn in fns.items()}))
        return

    print(
        f"# torch {torch.__version__}, {args.threads} threads, {platform.processor() or platform.machine()}"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"# median of {args.repeat} rounds after {args.warmup} warm-up rounds; forward + backward")
    print(f"# load average at start: {load} (on {os.cpu_count()} CPUs)\n")
    print(
        "| shape | loss | time (ms) | × BCE | eager (ms) | speed-up vs eager | CPU × BCE "
        "| CPU speed-up vs eager | peak MiB | eager peak MiB |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    results = []
    for shape in args.shapes.split(","):
        fns, logits, targets = callables(shape, presets, not args.no_eager)
        times: dict[str, list[float]] = {key: [] for key in fns}
        cpu: dict[str, list[float]] = {key: [] for key in fns}
        fused = [key for key in fns if not key.startswith("eager:")]
        eager = [key for key in fns if key.startswith("eager:")]
        for group in (fused, eager):
            for round_ in range(args.warmup + args.repeat if group else 0):
                for key in group:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    fwd_bwd(fns[key], logits, targets)
                    if round_ >= args.warmup:
                        times[key].append(time.perf_counter() - start)
                        cpu[key].append(time.process_time() - start_cpu)
        med = {key: statistics.median(v) * 1e3 for key, v in times.items()}
        med_cpu = {key: statistics.median(v) * 1e3 for key, v in cpu.items()}
        peaks = memory_in_subprocess(shape, presets, not args.no_eager) or {key: float("nan") for key in fns}
        print(
            f"| {shape} | BCE (`F.binary_cross_entropy_with_logits`) | {med['bce']:.2f} | 1.00 | | "
            f"| 1.00 | | {peaks['bce']:.1f} | |"
        )
        for name in presets:
            ours, ours_cpu = med[f"mlbalance:{name}"], med_cpu[f"mlbalance:{name}"]
            eager, eager_cpu = med.get(f"eager:{name}"), med_cpu.get(f"eager:{name}")
            cpu_ratio = f"{ours_cpu / med_cpu['bce']:.2f}"
            eager_cols = (
                f"{eager:.2f} | {eager / ours:.2f}× | {cpu_ratio} | {eager_cpu / ours_cpu:.2f}× | "
                f"{peaks[f'mlbalance:{name}']:.1f} | {peaks[f'eager:{name}']:.1f}"
                if eager is not None
                else f" | | {cpu_ratio} | | {peaks[f'mlbalance:{name}']:.1f} |"
            )
            print(f"| {shape} | {name} | {ours:.2f} | {ours / med['bce']:.2f} | {eager_cols} |")
        results.append({"shape": shape, "median_ms": med, "median_cpu_ms": med_cpu, "peak_mib": peaks})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"threads": args.threads, "repeat": args.repeat, "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
