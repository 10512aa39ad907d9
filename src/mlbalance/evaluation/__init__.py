"""Evaluation: thresholds tuned on validation, the paper's Tables 2 and 3, ranking metrics, errors.

>>> from mlbalance.evaluation import tune_thresholds, evaluate, table2_markdown
>>> thr = tune_thresholds(scores_val, y_val, method="grid")          # doctest: +SKIP
>>> rows = evaluate(scores_test, y_test, stats, thr, split="test")  # doctest: +SKIP
"""

from __future__ import annotations

from mlbalance.evaluation.errors import confused_pairs
from mlbalance.evaluation.metrics import (
    LABEL_GROUPS,
    ROW_KEYS,
    evaluate,
    evaluate_predictions,
    label_subset_f1,
    per_label_table,
    threshold_sweep,
)
from mlbalance.evaluation.plots import plot_f1_by_group
from mlbalance.evaluation.ranking import (
    RANKING_KEYS,
    ndcg_at_k,
    precision_at_k,
    propensities,
    psp_at_k,
    ranking_metrics,
)
from mlbalance.evaluation.report import (
    PAPER_METHOD_NAMES,
    PAPER_TABLE2,
    paper_method_name,
    ranking_markdown,
    rows_to_csv,
    rows_to_json,
    table2_markdown,
    table3_markdown,
)
from mlbalance.evaluation.thresholding import (
    get_thresholder,
    tune_thresholds,
    tune_thresholds_cv,
    tune_thresholds_micromacro,
)
from mlbalance.evaluation.thresholds import FBR_CANDIDATES, METHODS, PAPER_GRIDS, Thresholds

__all__ = [
    "FBR_CANDIDATES",
    "LABEL_GROUPS",
    "METHODS",
    "PAPER_GRIDS",
    "PAPER_METHOD_NAMES",
    "PAPER_TABLE2",
    "RANKING_KEYS",
    "ROW_KEYS",
    "Thresholds",
    "confused_pairs",
    "evaluate",
    "evaluate_predictions",
    "get_thresholder",
    "label_subset_f1",
    "ndcg_at_k",
    "paper_method_name",
    "per_label_table",
    "plot_f1_by_group",
    "precision_at_k",
    "propensities",
    "psp_at_k",
    "ranking_markdown",
    "ranking_metrics",
    "rows_to_csv",
    "rows_to_json",
    "table2_markdown",
    "table3_markdown",
    "threshold_sweep",
    "tune_thresholds",
    "tune_thresholds_cv",
    "tune_thresholds_micromacro",
]
