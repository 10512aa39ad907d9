"""Exporting a finished run as a folder a model hub accepts, with a model card.

The folder is a complete run directory — ``config.json``, ``labels.json``, ``label_stats.json``,
``thresholds.json``, ``metrics.json``, the weights as safetensors under ``model/`` and ``COMPLETE`` —
plus ``README.md``: a model card whose YAML header carries the hub metadata (library, task, tags,
test metrics) and whose body says what the model was trained on, how it thresholds, its Table 2 rows,
what it is for and where it falls short. ``mlbalance predict``, ``mlbalance serve`` and
:func:`mlbalance.load_run` read it unchanged; the training checkpoint and caches are left out.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mlbalance._atomic import current_umask
from mlbalance.errors import RunError

if TYPE_CHECKING:
    from mlbalance.runs import Run

log = logging.getLogger(__name__)

CARD = "README.md"
#: Files and folders of a run directory that an export carries (those present).
EXPORTED = (
    "config.json",
    "labels.json",
    "label_stats.json",
    "thresholds.json",
    "metrics.json",
    "history.json",
    "timing.json",
    "report.md",
    "plots",
    "model",
)


def export_run(run_dir: str | Path, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write the finished run in ``run_dir`` as a hub-ready folder ``out`` (module docstring).

    The folder is assembled beside ``out`` and renamed into place, so ``out`` is never half-written.

    Args:
        run_dir: a finished run directory (or an earlier export).
        out: the folder to create.
        overwrite: replace ``out`` if it exists (only a folder holding an export or a run).

    Raises:
        RunError: ``run_dir`` is not a finished run, or ``out`` exists (without ``overwrite``, or
            when it is not an export or run directory), or is ``run_dir`` itself.
    """
    from mlbalance.runs import COMPLETE, is_run_dir, load_run

    run_dir, out = Path(run_dir), Path(out)
    run = load_run(run_dir)  # checks the run is finished and loadable
    if out.exists() and out.resolve() == run_dir.resolve():
        raise RunError(f"cannot export {run_dir} onto itself; choose another output folder")
    if out.exists() or out.is_symlink():
        if not overwrite:
            raise RunError(
                f"{out} already exists; replace it with overwrite=True (--overwrite) or choose another folder"
            )
        if not (out.is_dir() and is_run_dir(out)):
            raise RunError(
                f"{out} exists and is not an exported model or run directory; choose another folder"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name in EXPORTED:
            source = run_dir / name
            if source.is_dir():  # plain copies: the umask's modes, not the run's private 0600
                shutil.copytree(source, staging / name, copy_function=shutil.copyfile)
            elif source.is_file():
                shutil.copyfile(source, staging / name)
        (staging / CARD).write_text(model_card(run), encoding="utf-8")
        shutil.copyfile(run_dir / COMPLETE, staging / COMPLETE)
        os.chmod(staging, 0o777 & ~current_umask())
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("exported %s to %s", run_dir, out)
    return out


def model_card(run: Run) -> str:
    """The Markdown model card of ``run``: hub metadata as a YAML header, then the card itself."""
    from mlbalance.evaluation.report import table2_markdown

    config = run.config or {}
    kind = run.model.name
    loss = config.get("loss") or getattr(run.model, "loss", None)
    takes_loss = run.model.takes_loss
    dataset = (config.get("data") or {}).get("source") or "a user corpus"
    stats = run.stats
    sizes = stats.group_sizes()
    test_total = next(iter(run.test_rows("total")), None)
    thresholds = run.thresholds
    method = (config.get("threshold") or {}).get("method") or thresholds.method
    metadata: dict[str, Any] = {
        "library_name": "mlbalance",
        "pipeline_tag": "text-classification",
        "tags": [
            "multi-label",
            "long-tail",
            "text-classification",
            kind,
            *([loss] if takes_loss and loss else []),
        ],
    }
    if test_total is not None:
        metadata["model-index"] = [
            {
                "name": f"{kind}-{loss}" if takes_loss else kind,
                "results": [
                    {
                        "task": {"type": "text-classification", "name": "Multi-label text classification"},
                        "dataset": {"name": str(dataset), "type": str(dataset), "split": "test"},
                        "metrics": [
                            {
                                "type": "f1",
                                "name": "micro-F1",
                                "value": round(float(test_total["micro_f1"]), 4),
                            },
                            {
                                "type": "f1",
                                "name": "macro-F1",
                                "value": round(float(test_total["macro_f1"]), 4),
                            },
                        ],
                    }
                ],
            }
        ]
    title = f"{kind} · {loss}" if takes_loss else kind
    lines = [
        "---",
        yaml.safe_dump(metadata, sort_keys=False).rstrip(),
        "---",
        "",
        f"# {title} — multi-label classifier trained on {dataset}",
        "",
        f"A {_model_phrase(kind)} that assigns any number of {stats.n_labels} labels to a text, trained with "
        f"mlbalance{f' and the {loss} loss' if takes_loss else ''}.",
        "",
        "## Training data",
        "",
        f"- source: {dataset}; {stats.n_train} training documents, {stats.label_cardinality:.2f} labels per "
        "document on average",
        f"- labels: {stats.n_labels} — {sizes.get('head', 0)} head (≥ {stats.head_min} training documents), "
        f"{sizes.get('medium', 0)} medium, {sizes.get('tail', 0)} tail (≤ {stats.tail_max})",
        "",
        "## Decision rule",
        "",
        f"Scores are {thresholds.score_kind} scores; {_threshold_phrase(method, thresholds)}"
        + (
            " A document with no label over its threshold gets its best label."
            if thresholds.at_least_one
            else ""
        ),
        "",
        "## Results",
        "",
    ]
    rows = [r for r in run.metrics if r.get("split") == "test"]
    if rows:
        lines += ["Test split, micro-F1 / macro-F1 (%) by label group (the paper's Table 2):", ""]
        lines.append(table2_markdown(rows).rstrip())
    else:
        lines.append("No test metrics were recorded for this run.")
    lines += [
        "",
        "## Use",
        "",
        "```bash",
        'mlbalance predict MODEL_DIR --input docs.jsonl       # one {"id", "text"} object per line',
        "mlbalance serve MODEL_DIR --port 8000                # REST API and a page at http://127.0.0.1:8000/",
        "```",
        "",
        "```python",
        "import mlbalance",
        'run = mlbalance.load_run("MODEL_DIR")',
        'run.predict(["first text", "second text"])',
        "```",
        "",
        "## Intended use and limits",
        "",
        f"- Meant for texts like the training data ({dataset}); it predicts only these {stats.n_labels}"
        " labels.",
        "- Tail labels have few training examples and are usually predicted worse than head labels (the tail"
        " columns above say by how much); check them before relying on rare labels.",
        "- Thresholds were tuned on a validation split of the same corpus; on texts of another kind, tune"
        " them again (`mlbalance evaluate RUN --threshold ...`).",
    ]
    if kind in ("embedding", "hybrid", "transformer"):
        encoder = (run.model.get_config() or {}).get("encoder") or (run.model.get_config() or {}).get(
            "model_name"
        )
        if kind != "transformer" and encoder:
            lines.append(f"- The frozen encoder ({encoder}) is not in this folder: it is loaded by name.")
    lines.append("")
    return "\n".join(lines)


def _model_phrase(kind: str) -> str:
    return {
        "tfidf": "TF-IDF linear model",
        "svm": "TF-IDF one-vs-rest linear SVM",
        "svm-sgd": "TF-IDF one-vs-rest linear SVM (SGD)",
        "transformer": "fine-tuned transformer encoder",
        "embedding": "frozen sentence encoder with a trained head",
        "hybrid": "TF-IDF ⊕ frozen sentence-encoder model",
    }.get(kind, f"{kind} model")


def _threshold_phrase(method: str, thresholds: Any) -> str:
    if thresholds.method == "top-k":
        return f"each document gets its {thresholds.k} best labels."
    if thresholds.per_label is not None:
        return f"each label has its own threshold ({method}, tuned on validation)."
    return f"a label is predicted when its score is ≥ {thresholds.value:g} ({method})."
