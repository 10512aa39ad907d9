"""What the ``train``, ``evaluate``, ``predict`` and ``compare`` commands share.

Flags default to None, so the commands can tell a flag that was given (it wins) from one that was
not (the config file's value, or the library default, applies).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlbalance.config import MODEL_KINDS, THRESHOLD_METHODS
from mlbalance.config_files import load_config_file
from mlbalance.errors import ConfigError

#: Flags that become model options (constructor arguments), with their types.
MODEL_FLAGS: dict[str, tuple[type, str]] = {
    "max_epochs": (int, "maximum number of training epochs"),
    "batch_size": (int, "training batch size"),
    "lr": (float, "learning rate"),
    "patience": (int, "early stopping: epochs without validation improvement"),
    "weight_decay": (float, "weight decay"),
    "encoder": (str, "transformer, embedding, hybrid: Hugging Face encoder (hub id, folder or 'minilm')"),
    "max_length": (int, "transformer, embedding, hybrid: maximum tokens per document"),
    "head_lr": (float, "transformer: learning rate of the classification head (default: 2.5e-2)"),
    "grad_accum": (int, "transformer: gradient accumulation steps"),
    "precision": (str, "transformer: fp32, bf16, fp16 or auto"),
    "schedule": (str, "transformer: learning-rate schedule, constant or linear"),
    "warmup_ratio": (float, "transformer: share of steps spent warming up"),
    "recipe": (str, "transformer: 'paper' for the paper's fine-tuning recipe"),
}


def add_command(
    subparsers: argparse._SubParsersAction, name: str, doc: str | None
) -> argparse.ArgumentParser:
    """The sub-command ``name``, described by its module's docstring ``doc``: the first line after the
    colon is the one-line help, the second paragraph the ``--help`` description."""
    paragraphs = [" ".join(part.split()) for part in (doc or "").strip().split("\n\n")]
    summary = paragraphs[0].split(": ", 1)[-1].rstrip(".")
    description = paragraphs[1] if len(paragraphs) > 1 else summary
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=summary, description=description.replace("``", "")
    )
    return parser


def add_run_arguments(
    parser: argparse.ArgumentParser, *, model_choices: tuple[str, ...] = MODEL_KINDS
) -> None:
    """The data and the model/training argument groups of ``train`` and ``compare``."""
    add_data_arguments(parser)
    add_model_arguments(parser, model_choices=model_choices)


def add_option_flag(parser: Any, help_text: str) -> None:
    """``-o/--option KEY=VALUE``, repeatable (read with :func:`parse_option`)."""
    parser.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE", help=help_text)


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset",
        metavar="SOURCE",
        help="reuters21578, bioasq, synthetic:PRESET, or a path to a JSONL/CSV file or folder of split files",
    )
    group.add_argument("--data", metavar="PATH", help="the file or folder a named source reads")


def add_model_arguments(
    parser: argparse.ArgumentParser, *, model_choices: tuple[str, ...] = MODEL_KINDS
) -> None:
    group = parser.add_argument_group("model and training")
    group.add_argument("--model", choices=model_choices, help="model kind (default: tfidf)")
    group.add_argument("--seed", type=int, help="random seed (default: 0)")
    group.add_argument(
        "--threshold",
        choices=THRESHOLD_METHODS,
        help="how thresholds are tuned on validation (default: auto: the paper's grid 0.40-0.60 for the "
        "paper's corpora and the synthetic ones, the best global threshold on validation for any other)",
    )
    add_threshold_options(group)
    for name, (kind, help_text) in MODEL_FLAGS.items():
        group.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, help=help_text)
    group.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="transformer: torch.compile the model",
    )
    add_option_flag(group, "any other model option, e.g. -o max_features=50000 (values read as YAML scalars)")
    parser.add_argument("--config", metavar="FILE", help="YAML or TOML file of settings (flags win over it)")


#: The flags of :func:`add_threshold_options` and ``--threshold``, as settings keys.
THRESHOLD_FLAGS = ("threshold", "top_k", "at_least_one", "cv_folds", "fbr", "threshold_value")
#: The run settings :func:`add_run_arguments` adds (as settings keys).
RUN_FLAGS = ("dataset", "data", "model", "seed", *THRESHOLD_FLAGS)


def add_threshold_options(group: Any) -> None:
    """The options of the thresholding methods (``--threshold`` itself is added by the caller)."""
    group.add_argument("--top-k", type=int, help="labels per document for --threshold top-k")
    group.add_argument(
        "--threshold-value",
        type=float,
        metavar="SCORE",
        help="the threshold of --threshold fixed (default: the scores' decision point, "
        "probability 0.5 or SVM decision value 0)",
    )
    group.add_argument(
        "--at-least-one",
        action="store_true",
        default=None,
        help="give a document with no label above threshold its top-scoring label",
    )
    group.add_argument(
        "--cv-folds",
        type=int,
        help="folds of the out-of-fold training scores for --threshold per-label-cv and micromacro-cv "
        "(default: 3; 10 for the tfidf network with micromacro-cv, the measured best)",
    )
    group.add_argument(
        "--fbr",
        type=float,
        help="per-label-cv: labels whose out-of-fold F1 is below this get a threshold just above their "
        "highest validation score "
        "(default: chosen on validation among 0.1-0.8)",
    )


def parse_option(text: str) -> tuple[str, Any]:
    """``"key=value"`` → ``("key", value)`` with the value read as a YAML scalar."""
    import yaml

    key, sep, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise ConfigError(f"--option expects KEY=VALUE, got {text!r}")
    try:
        return key, yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        return key, value


def settings_from(args: argparse.Namespace, keys: tuple[str, ...]) -> dict[str, Any]:
    """The config file's settings (if ``--config``) overridden by the flags that were given.

    ``keys`` names the command's own run-level attributes of ``args`` to collect; the data, model,
    seed and thresholding flags (:data:`RUN_FLAGS`), model flags and ``--option`` values are always
    collected.
    """
    settings: dict[str, Any] = {}
    if getattr(args, "config", None):
        settings.update(load_config_file(args.config))
    given: dict[str, Any] = {}
    for key in (*RUN_FLAGS, *keys, *MODEL_FLAGS, "compile"):
        value = getattr(args, key, None)
        if value is not None:
            given[key] = value
    for text in getattr(args, "option", []) or []:
        key, value = parse_option(text)
        given[key] = value
    settings.update(given)
    return settings


class TqdmProgress:
    """A :class:`~mlbalance.models.base.ProgressCallback` drawing one tqdm bar per stage on stderr.

    Bars appear once the command has been working for more than ``delay`` seconds (so a command
    that is done in a second draws nothing, and the many short stages of a long one — epochs — do).
    """

    def __init__(self, *, disable: bool | None = None, delay: float = 1.0) -> None:
        import time

        self.disable = disable
        self.delay = delay
        self._start = time.monotonic()
        self._bar: Any = None
        self._stage: str | None = None

    def __call__(self, stage: str, done: int, total: int | None, **info: Any) -> None:
        import time

        from tqdm.auto import tqdm

        if stage != self._stage or self._bar is None or (total is not None and self._bar.total != total):
            self.close()
            self._stage = stage
            self._bar = tqdm(
                total=total,
                desc=stage,
                file=sys.stderr,
                delay=max(0.0, self.delay - (time.monotonic() - self._start)),
                leave=False,
                disable=self.disable,
                dynamic_ncols=True,
            )
        bar = self._bar
        if done >= bar.n:
            bar.update(done - bar.n)
        if info:
            bar.set_postfix({k: _short(v) for k, v in info.items()}, refresh=False)
        if total is not None and done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._stage = None

    def write(self, message: str) -> None:
        """A line on stderr that does not break a bar."""
        from tqdm.auto import tqdm

        tqdm.write(message, file=sys.stderr)


def _short(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.4g}"
    return value


def print_tables(rows: list[Mapping[str, Any]], split: str = "test") -> None:
    """Table 2 and Table 3 of ``split`` on stdout (the validation Table 2 when there is no test)."""
    from mlbalance.evaluation.report import ranking_markdown, table2_markdown, table3_markdown

    chosen = [dict(r) for r in rows if r["split"] == split]
    if not chosen:
        split = "validation"
        chosen = [dict(r) for r in rows if r["split"] == split]
    print(f"Table 2 — {split}, micro-F1 / macro-F1 (%) by label group")
    print(table2_markdown(chosen).rstrip("\n"))
    print()
    print(f"Table 3 — {split}, micro-F1 / macro-F1 (%) by labels per document")
    print(table3_markdown(chosen).rstrip("\n"))
    print()
    print(f"Ranking — {split}, P@k / nDCG@k / PSP@k (%)")
    print(ranking_markdown(chosen).rstrip("\n"))


def existing_path(value: str, what: str) -> Path:
    """``value`` as a path that must exist (else a DataError naming ``what``)."""
    from mlbalance.errors import DataError

    path = Path(value)
    if not path.exists():
        raise DataError(f"{what} {value} does not exist")
    return path
