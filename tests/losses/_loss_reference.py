"""An independent, per-element plain-Python reading of PAPER.md's equations (test helper)."""

from __future__ import annotations

import math

# The paper's settings, restated here (not imported) so the tests check the library's presets.
PAPER_SETTINGS = {
    "reuters": dict(gamma=2.0, cb_beta=0.9, alpha=0.1, beta=10.0, mu=0.9, kappa=0.05, lam=2.0),
    "pubmed": dict(gamma=2.0, cb_beta=0.9, alpha=0.1, beta=10.0, mu=0.05, kappa=0.05, lam=2.0),
}
# (focal, reweight, ntr) of each preset, from PAPER.md's list of the eight losses.
PAPER_PRESETS = {
    "bce": (False, None, False),
    "focal": (True, None, False),
    "cb": (True, "cb", False),
    "r-focal": (True, "rebalance", False),
    "ntr-focal": (True, None, True),
    "db-nofocal": (False, "rebalance", True),
    "cb-ntr": (True, "cb", True),
    "db": (True, "rebalance", True),
}
RELEASED_WEIGHTS = {
    "reuters": {"bce": 1, "focal": 1, "cb": 10, "r-focal": 1, "ntr-focal": 1, "db-nofocal": 0.5, "cb-ntr": 10,
                "db": 1},
    "pubmed": {"bce": 1, "focal": 1, "cb": 5, "r-focal": 1, "ntr-focal": 0.5, "db-nofocal": 0.5, "cb-ntr": 10,
               "db": 1},
}  # fmt: skip


def _neg_log_sigmoid(x: float) -> float:
    """−log σ(x), computed stably in plain Python."""
    return math.log1p(math.exp(-x)) if x >= 0 else -x + math.log1p(math.exp(x))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def reference_loss(
    logits: list[list[float]],
    targets: list[list[int]],
    class_freq: list[int],
    n_train: int,
    name: str,
    dataset: str = "reuters",
    compat: str = "equations",
    **changes: float,
) -> float:
    """PAPER.md's equations, one (document, label) element at a time, mean over all elements."""
    s = dict(PAPER_SETTINGS[dataset])
    s.update(changes)
    focal, reweight, ntr = PAPER_PRESETS[name]
    gamma = s["gamma"] if focal else 0.0
    if "gamma" in changes:
        gamma = changes["gamma"]
    loss_weight, alpha_t, neg_one_over_lambda = 1.0, 1.0, True
    if compat == "released-scripts":
        loss_weight = RELEASED_WEIGHTS[dataset][name]
        alpha_t = 0.5 if focal else 1.0
        neg_one_over_lambda = reweight is not None
    n_docs, n_labels = len(logits), len(class_freq)
    total = 0.0
    for k in range(n_docs):
        # P^I_k = (1/C) Σ_{j: y_kj=1} 1/n_j  (n_j = 0 counted as 1)
        p_doc = sum(1.0 / max(class_freq[j], 1) / n_labels for j in range(n_labels) if targets[k][j])
        for i in range(n_labels):
            n_i = class_freq[i]
            w = 1.0
            if reweight == "cb":
                n_eff = max(n_i, 1)
                w = (1.0 - s["cb_beta"]) / (1.0 - s["cb_beta"] ** n_eff)
            elif reweight == "rebalance":
                p_class = 1.0 / max(n_i, 1) / n_labels
                if p_doc == 0.0:
                    w = s["alpha"] + 1.0  # limit r_DB → ∞
                else:
                    r_db = p_class / p_doc
                    w = s["alpha"] + _sigmoid(s["beta"] * (r_db - s["mu"]))
            v, lam = 0.0, 1.0
            if ntr:
                p_i = min(max(n_i, 0.5), n_train - 0.5) / n_train
                b_hat = -math.log(1.0 / p_i - 1.0)
                v, lam = -s["kappa"] * b_hat, s["lam"]
            z = logits[k][i]
            if targets[k][i]:
                q = _sigmoid(z - v)
                term = (1.0 - q) ** gamma * _neg_log_sigmoid(z - v)
            else:
                q = _sigmoid(lam * (z - v))
                term = q**gamma * _neg_log_sigmoid(-lam * (z - v))
                if ntr and neg_one_over_lambda:
                    term /= lam
            total += loss_weight * alpha_t * w * term
    return total / (n_docs * n_labels) if n_docs * n_labels else 0.0
