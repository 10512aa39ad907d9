"""Out-of-fold scores kept sparse (each document's highest scores and its labels'): what the
cross-validated thresholding methods tune on when dense scores would not fit in memory."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import f1_score

from mlbalance.evaluation.thresholding import OutOfFold, Scored, get_thresholder
from mlbalance.evaluation.thresholding.base import keep_top_scores, keep_top_scores_by_fold
from mlbalance.evaluation.thresholding.per_label import label_runs, per_label_optimal
from mlbalance.evaluation.thresholding.per_label_cv import just_above_highest
from mlbalance.evaluation.thresholds import NEVER, Thresholds
from mlbalance.out_of_fold import DENSE_OOF_ENTRIES, OOF_TOP_K, fold_assignment, oof_top_k

from .helpers import make_data

#: what a score not stored stands for in the dense re-derivations: below every cut (and no neighbour
#: for a cut to lie halfway to)
UNSTORED = np.float32(-np.inf)


def filled(kept: sp.csr_matrix) -> np.ndarray:
    """The dense matrix a sparse one stands for: the stored scores, ``UNSTORED`` elsewhere."""
    out = np.full(kept.shape, UNSTORED, dtype=np.float32)
    coo = kept.tocoo()
    out[coo.row, coo.col] = coo.data
    return out


@pytest.mark.parametrize("ties", [False, True])
def test_kept_scores_are_each_rows_top_k_and_its_labels(ties):
    s, y = make_data(1, n=80, c=30, ties=ties)
    kept, unstored_max = keep_top_scores(s, sp.csr_matrix(y), 5)
    dense = kept.toarray()
    stored = np.zeros(s.shape, dtype=bool)
    coo = kept.tocoo()
    stored[coo.row, coo.col] = True
    np.testing.assert_array_equal(dense[stored], s[stored])  # values kept exactly
    assert (stored[y.astype(bool)]).all()  # every label's score is kept
    kth = -np.sort(-s, axis=1)[:, 4]
    for i in range(len(s)):  # at least the top 5, and every score above the 5th highest
        assert stored[i][s[i] > kth[i]].all()
        assert (stored[i] & ~y[i].astype(bool)).sum() <= 5
    expected = np.where(stored, -np.inf, s.astype(np.float64)).max(axis=0)
    np.testing.assert_array_equal(unstored_max, expected)  # each label's highest score not kept


def test_k_at_least_the_labels_keeps_every_score_zeros_included():
    s, y = make_data(2, n=20, c=6)
    s[0, 0] = 0.0
    kept, unstored_max = keep_top_scores(s, sp.csr_matrix(y), 6)
    assert kept.nnz == s.size and np.isneginf(unstored_max).all()
    np.testing.assert_array_equal(kept.toarray(), s)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_per_label_optimum_on_kept_scores_is_the_dense_one_with_the_rest_below_every_cut(seed):
    s, y = make_data(seed, n=150, c=25, ties=seed == 5)
    kept, _ = keep_top_scores(s, sp.csr_matrix(y), 4)
    sparse_thr, n_sparse = per_label_optimal(kept, sp.csr_matrix(y), 2, 0.25)
    dense_thr, n_dense = per_label_optimal(filled(kept), sp.csr_matrix(y), 2, 0.25)
    np.testing.assert_array_equal(sparse_thr, dense_thr)
    assert n_sparse == n_dense


def test_a_positive_without_a_stored_score_is_never_predicted():
    y = sp.csr_matrix(np.array([[1, 0], [1, 0], [0, 1]], dtype=np.int8))
    kept = sp.csr_matrix((np.array([0.9, 0.8], dtype=np.float32), ([0, 2], [0, 1])), shape=(3, 2))
    thr, _ = per_label_optimal(kept, y, 1, 0.5)
    # label 0: the stored positive (0.9) is the only cut; the unstored positive stays a false negative
    assert thr[0] == np.float32(0.9) and thr[1] == np.float32(0.8)
    pred = Thresholds("per-label", per_label=thr)._predict(kept).toarray()
    np.testing.assert_array_equal(pred, [[1, 0], [0, 0], [0, 1]])


def test_predictions_on_kept_scores_are_those_of_the_filled_matrix():
    s, y = make_data(6, n=90, c=20)
    kept, _ = keep_top_scores(s, sp.csr_matrix(y), 3)
    thr = Thresholds("per-label", per_label=np.linspace(0.2, 0.8, 20))
    np.testing.assert_array_equal(thr._predict(kept).toarray(), thr._predict(filled(kept)).toarray())
    with pytest.raises(ValueError, match="at-least-one"):
        Thresholds("per-label", per_label=thr.per_label, at_least_one=True)._predict(kept)


def test_highest_of_kept_scores_counts_the_highest_not_kept():
    kept = sp.csr_matrix((np.array([0.9, 0.2], dtype=np.float32), ([0, 1], [0, 1])), shape=(2, 3))
    top = just_above_highest(kept, np.array([0.5, 0.4, 0.1]))
    assert top[0] > 0.9 and 0.4 < top[1] < 0.4001 and 0.1 < top[2] < 0.1001
    assert just_above_highest(kept)[2] == NEVER  # nothing stored, nothing known: never predicted


def test_the_lowest_cut_ends_halfway_to_the_highest_score_not_kept():
    """A label's lowest cut lies between its lowest positive and the next lower score, as on dense
    scores, also when that score is not kept (here every positive outscores every negative)."""
    rng = np.random.default_rng(14)
    y = (rng.random((120, 12)) < 0.1).astype(np.int8)
    s = np.where(y == 1, rng.uniform(0.6, 1.0, y.shape), rng.uniform(0.0, 0.5, y.shape)).astype(np.float32)
    y_csr = sp.csr_matrix(y)
    kept, unstored_max = keep_top_scores(s, y_csr, 3)
    dense_runs, sparse_runs = label_runs(s, y_csr), label_runs(kept, y_csr, 1, unstored_max)
    seen = y.any(axis=0)
    assert seen.sum() == 12 and kept.nnz < 0.3 * s.size
    np.testing.assert_array_equal(sparse_runs.below[seen], dense_runs.below[seen])
    without = label_runs(kept, y_csr)  # without the highest scores not kept: lower ends than dense
    assert (without.below[seen] < dense_runs.below[seen]).any()
    dense_thr, _ = per_label_optimal(s, y_csr, 1, 0.5)
    sparse_thr, _ = per_label_optimal(kept, y_csr, 1, 0.5, unstored_max)
    np.testing.assert_array_equal(sparse_thr, dense_thr)


@pytest.mark.parametrize(
    ("method", "options"),
    [("per-label-cv", {}), ("per-label-cv", {"fallback": "highest-oof"}), ("micromacro-cv", {})],
)
def test_every_score_kept_gives_the_dense_thresholds(method, options):
    s_oof, y_train = make_data(7, n=200, c=20)
    s_val, y_val = make_data(8, n=80, c=20)
    folds = fold_assignment(200, 3)
    thresholder = get_thresholder(method, **options)
    val = Scored.checked(s_val, y_val)
    y = sp.csr_matrix(y_train)
    dense = thresholder.tune(val, OutOfFold(s_oof, y, folds))
    kept, unstored_max = keep_top_scores_by_fold(s_oof, y, folds, 20)
    sparse = thresholder.tune(val, OutOfFold(kept, y, folds, unstored_max=unstored_max))
    np.testing.assert_array_equal(sparse.per_label, dense.per_label)
    assert sparse.fbr == dense.fbr and sparse.validation_micro_f1 == dense.validation_micro_f1


@pytest.mark.parametrize("method", ["per-label-cv", "micromacro-cv"])
def test_top_lists_give_thresholds_as_good_as_dense_scores(method):
    """Documents with about 2 of 60 labels: thresholds tuned on each one's top 10 scores predict
    the test documents within a point of micro- and macro-F1 of those tuned on every score."""
    rng = np.random.default_rng(9)
    n_labels = 60
    rate = np.sort(rng.uniform(0.002, 0.1, n_labels))[::-1]

    def split(n):
        y = (rng.random((n, n_labels)) < rate).astype(np.int8)
        logits = rng.normal(-4.0, 1.2, (n, n_labels)) + 4.5 * y
        return (1 / (1 + np.exp(-logits))).astype(np.float32), y

    (s_oof, y_train), (s_val, y_val), (s_test, y_test) = split(3000), split(600), split(3000)
    folds = fold_assignment(3000, 4)
    y = sp.csr_matrix(y_train)
    val = Scored.checked(s_val, y_val)
    thresholder = get_thresholder(method)
    dense = thresholder.tune(val, OutOfFold(s_oof, y, folds))
    kept, unstored_max = keep_top_scores_by_fold(s_oof, y, folds, 10)
    assert kept.nnz < 0.25 * s_oof.size
    sparse = thresholder.tune(val, OutOfFold(kept, y, folds, unstored_max=unstored_max))
    for average in ("micro", "macro"):
        f1 = {
            name: f1_score(y_test, thr.predict(s_test).toarray(), average=average, zero_division=0)
            for name, thr in (("dense", dense), ("sparse", sparse))
        }
        assert abs(f1["sparse"] - f1["dense"]) < 0.01, (average, f1)


def test_the_size_rule():
    assert oof_top_k(10_000, 90) is None  # Reuters size: dense
    assert oof_top_k(224_897, 18_211) == OOF_TOP_K  # PubMed size: 16 GiB dense
    assert oof_top_k(DENSE_OOF_ENTRIES, 1) is None and oof_top_k(DENSE_OOF_ENTRIES + 1, 1) == OOF_TOP_K
    assert oof_top_k(10, 5, top_k=3) == 3
