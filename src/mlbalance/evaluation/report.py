"""Result rows → the paper's Table 2 and Table 3 layouts (Markdown), CSV and JSON.

A *row* is a dict as :func:`~mlbalance.evaluation.evaluate` returns it, plus ``model`` and ``loss``
added by the caller. Tables show F1 in percent with two decimals. The macro convention is written
under every table: ``macro_f1`` averages over all labels of the group with ``zero_division=0``
(scikit-learn's, the paper's); ``macro_f1_present`` only over labels present in the evaluated split.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from mlbalance.errors import DataError
from mlbalance.evaluation.metrics import LABEL_GROUPS, ROW_KEYS
from mlbalance.evaluation.ranking import PROPENSITY_A, PROPENSITY_B, RANKING_KEYS

MacroKey = Literal["macro_f1", "macro_f1_present"]

#: Paper names of the losses (and of the SVM baseline, either solver), as in Table 2.
PAPER_METHOD_NAMES: dict[str, str] = {
    "svm": "SVM",
    "svm-sgd": "SVM",
    "bce": "BCE",
    "focal": "FL",
    "cb": "CB",
    "r-focal": "R-FL",
    "ntr-focal": "NTR-FL",
    "db-nofocal": "DB-0FL",
    "cb-ntr": "CB-NTR",
    "db": "DB",
}

_PAPER_ROWS = {
    # method: Reuters total/head/medium/tail (micro, macro), then PubMed the same (test set, percent)
    "SVM": ((87.60, 51.63), (89.87, 78.47), (66.92, 61.00), (22.54, 13.83),
            (58.54, 13.31), (60.77, 34.33), (19.78, 5.62), (6.94, 0.67)),
    "BCE": ((89.14, 47.32), (91.75, 82.81), (66.28, 57.26), (0.00, 0.00),
            (26.17, 0.02), (27.61, 0.06), (0.00, 0.00), (0.00, 0.00)),
    "FL": ((89.97, 56.83), (91.83, 82.64), (76.16, 70.63), (27.40, 15.37),
           (58.30, 13.94), (60.43, 33.69), (26.39, 8.15), (8.58, 0.86)),
    "CB": ((89.23, 52.96), (91.56, 80.44), (71.64, 66.61), (23.08, 9.93),
           (58.57, 13.67), (60.75, 33.40), (24.50, 7.39), (9.92, 1.01)),
    "R-FL": ((89.47, 54.35), (91.59, 80.39), (72.86, 66.69), (25.00, 14.22),
             (57.90, 14.66), (59.85, 34.09), (30.32, 9.70), (11.45, 1.15)),
    "NTR-FL": ((90.70, 60.70), (92.37, 82.65), (79.35, 75.34), (39.51, 22.33),
               (60.92, 16.99), (63.15, 38.85), (33.14, 11.39), (15.86, 1.82)),
    "DB-0FL": ((89.45, 57.98), (91.21, 82.05), (77.33, 71.11), (31.17, 19.05),
               (58.95, 15.15), (60.99, 34.92), (31.06, 10.02), (14.23, 1.49)),
    "CB-NTR": ((90.74, 63.31), (92.46, 83.28), (78.42, 72.98), (46.32, 32.31),
               (61.07, 18.40), (63.02, 39.95), (37.18, 13.43), (24.15, 2.97)),
    "DB": ((90.62, 64.47), (92.14, 83.48), (80.25, 77.01), (48.89, 31.39),
           (60.63, 19.19), (62.39, 40.48), (41.14, 15.33), (24.19, 3.08)),
}  # fmt: skip

#: The paper's Table 2 (test set, percent): ``PAPER_TABLE2[dataset][method][group] = (micro, macro)``.
PAPER_TABLE2: dict[str, dict[str, dict[str, tuple[float, float]]]] = {
    dataset: {
        method: dict(zip(LABEL_GROUPS, cells[offset : offset + 4])) for method, cells in _PAPER_ROWS.items()
    }
    for dataset, offset in (("reuters", 0), ("pubmed", 4))
}

Reference = str | Mapping[str, Any] | None

_MACRO_NOTES = {
    "macro_f1": "macro-F1 = mean F1 over all labels of the group, zero_division=0 (scikit-learn; the "
    "paper's convention: a label with no true and no predicted positive counts as 0)",
    "macro_f1_present": "macro-F1 (present) = mean F1 over the group's labels that occur at least once "
    "among the true labels of the evaluated documents",
}


def paper_method_name(model: str | None, loss: str | None) -> str:
    """The paper's name of a (model, loss) pair: ``("svm", None) -> "SVM"``, ``("tfidf", "db") -> "DB"``.

    A row without a loss is named by its model (the SVM baselines); otherwise by its loss.
    """
    if loss is None and model is not None:
        return PAPER_METHOD_NAMES.get(str(model), str(model))
    return PAPER_METHOD_NAMES.get(str(loss), str(loss))


def _run_key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(row.get("model") or ""), str(row.get("loss") or ""), str(row.get("split") or ""))


def _runs(
    rows: Iterable[Mapping[str, Any]], split: str | None
) -> dict[tuple[str, str, str], dict[str, Mapping]]:
    runs: dict[tuple[str, str, str], dict[str, Mapping]] = {}
    for row in rows:
        if "group" not in row:
            raise DataError(f"a result row needs a 'group' key, got keys {sorted(row)}")
        if split is not None and row.get("split") != split:
            continue
        runs.setdefault(_run_key(row), {})[str(row["group"])] = row
    return runs


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100.0 * float(value):.2f}"


def _resolve_reference(reference: Reference) -> tuple[Mapping[str, Any] | None, bool, str]:
    """(table, is_single_row, description)."""
    if reference is None:
        return None, False, ""
    if isinstance(reference, str):
        if reference not in PAPER_TABLE2:
            raise DataError(
                f"`reference` must be one of {tuple(PAPER_TABLE2)} or a mapping, got {reference!r}"
            )
        return PAPER_TABLE2[reference], False, f"the paper's Table 2 ({reference})"
    if not isinstance(reference, Mapping):
        raise DataError(f"`reference` must be a dataset name or a mapping, got {type(reference).__name__}")
    single = bool(reference) and set(reference) <= set(LABEL_GROUPS)
    return reference, single, "the reference row" if single else "the reference rows"


def table2_markdown(
    rows: Iterable[Mapping[str, Any]],
    reference: Reference = None,
    *,
    macro: MacroKey = "macro_f1",
    split: str | None = None,
) -> str:
    """Rows as the paper's Table 2: one line per (model, loss); total/head/medium/tail × micro/macro.

    Args:
        rows: result rows (with ``model`` and ``loss``); rows of other groups are ignored.
        reference: adds ``(±diff)`` to every cell, in percentage points, ours minus reference:
            ``"reuters"`` / ``"pubmed"`` for the paper's numbers (:data:`PAPER_TABLE2`, matched by
            :func:`paper_method_name`), a mapping ``{method: {group: (micro, macro)}}`` keyed by the
            paper name or ``"model/loss"``, or one row ``{group: (micro, macro)}`` for every line.
            Reference values are percent.
        macro: ``"macro_f1"`` (paper convention) or ``"macro_f1_present"``.
        split: only rows of this split (default: all; a ``split`` column appears if several).
    """
    if macro not in _MACRO_NOTES:
        raise DataError(f"`macro` must be one of {tuple(_MACRO_NOTES)}, got {macro!r}")
    ref, single, ref_name = _resolve_reference(reference)
    runs = _runs(rows, split)
    splits = sorted({key[2] for key in runs})
    show_split = len(splits) > 1
    head = ["model", "loss", *(["split"] if show_split else [])]
    head += [f"{g} {m}" for g in LABEL_GROUPS for m in ("micro-F1", "macro-F1")]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for (model, loss, sp_name), groups in runs.items():
        cells = [model or "-", loss or "-", *([sp_name] if show_split else [])]
        ref_row = None
        if ref is not None:
            ref_row = (
                ref
                if single
                else (ref.get(paper_method_name(model or None, loss or None)) or ref.get(f"{model}/{loss}"))
            )
        for g in LABEL_GROUPS:
            row = groups.get(g, {})
            for j, key in enumerate(("micro_f1", macro)):
                text = _pct(row.get(key))
                if row.get(f"{key}_std") is not None:
                    text += f" ± {100.0 * float(row[f'{key}_std']):.2f}"
                if ref_row is not None and g in ref_row and text != "n/a":
                    diff = 100.0 * float(row[key]) - float(ref_row[g][j])
                    text += f" ({diff:+.2f})"
                cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"F1 in percent. micro-F1 over the group's labels; {_MACRO_NOTES[macro]}."]
    if any(r.get("seeds") for groups in runs.values() for r in groups.values()):
        notes.append("Mean ± sample standard deviation over the seeds of each run.")
    if ref is not None:
        notes.append(f"(±x): percentage points versus {ref_name}.")
    return "\n".join(lines) + "\n\n" + " ".join(notes) + "\n"


def table3_markdown(
    rows: Iterable[Mapping[str, Any]], *, macro: MacroKey = "macro_f1", split: str | None = None
) -> str:
    """Rows as the paper's Table 3: documents grouped by their number of true labels, micro/macro-F1.

    The document groups are the rows whose ``group`` is not total/head/medium/tail, in order of first
    appearance (e.g. ``single-label``, ``multi-label``; or ``1-9``, ``10-14``, ``15+``).
    """
    if macro not in _MACRO_NOTES:
        raise DataError(f"`macro` must be one of {tuple(_MACRO_NOTES)}, got {macro!r}")
    rows = list(rows)
    runs = _runs(rows, split)
    doc_groups: list[str] = []
    n_docs: dict[str, Any] = {}
    for groups in runs.values():
        for g, row in groups.items():
            if g not in LABEL_GROUPS and g not in doc_groups:
                doc_groups.append(g)
                n_docs[g] = row.get("n_docs")
    show_split = len({key[2] for key in runs}) > 1
    head = ["model", "loss", *(["split"] if show_split else [])]
    head += [f"{g} (n={n_docs[g]}) {m}" for g in doc_groups for m in ("micro-F1", "macro-F1")]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for (model, loss, sp_name), groups in runs.items():
        cells = [model or "-", loss or "-", *([sp_name] if show_split else [])]
        for g in doc_groups:
            row = groups.get(g, {})
            cells += [_pct(row.get("micro_f1")), _pct(row.get(macro))]
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        "Documents grouped by their number of true labels; F1 in percent over all labels; "
        f"{_MACRO_NOTES[macro]}."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


_RANKING_TITLES = {"p": "P", "ndcg": "nDCG", "psp": "PSP"}


def ranking_markdown(rows: Iterable[Mapping[str, Any]], *, split: str | None = None) -> str:
    """P@k, nDCG@k and PSP@k (%) of all labels, then PSP@5 of each label group: one line per run.

    Runs whose rows carry no ranking metrics (made from predictions without scores) show n/a.
    """
    runs = _runs(rows, split)
    show_split = len({key[2] for key in runs}) > 1
    head = ["model", "loss", *(["split"] if show_split else [])]
    head += [_RANKING_TITLES[key.partition("@")[0]] + "@" + key.partition("@")[2] for key in RANKING_KEYS]
    groups = [g for g in LABEL_GROUPS if g != "total"]
    head += [f"{g} PSP@5" for g in groups]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for (model, loss, sp_name), by_group in runs.items():
        total = by_group.get("total", {})
        cells = [model or "-", loss or "-", *([sp_name] if show_split else [])]
        cells += [_pct(total.get(key)) for key in RANKING_KEYS]
        cells += [_pct(by_group.get(g, {}).get("psp@5")) for g in groups]
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        "Percent; the k highest-scoring labels of each document, averaged over documents (a label group "
        "ranks only its own labels). PSP@k: propensity-scored precision (Jain et al., KDD 2016; "
        f"A = {PROPENSITY_A}, B = {PROPENSITY_B} unless set otherwise), normalised by the best achievable."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


def _clean(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    return value


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cols = [c for c in ("model", "loss", *ROW_KEYS) if any(c in r for r in rows)]
    for row in rows:
        cols += [k for k in row if k not in cols]
    return cols


def rows_to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as CSV text: ``model, loss`` first, then the keys of :func:`evaluate`, then any others.

    Any list of flat dicts works (e.g. :func:`~mlbalance.evaluation.per_label_table`); columns are
    the keys that occur in some row.

    Metrics are fractions in [0, 1]; None is written as an empty cell.
    """
    rows = list(rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in _clean(row).items()})
    return buf.getvalue()


def rows_to_json(rows: Iterable[Mapping[str, Any]], indent: int | None = 2) -> str:
    """Rows as a JSON array (strict JSON: NaN and infinities become null, numpy scalars plain numbers)."""
    return json.dumps([_clean(r) for r in rows], indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
