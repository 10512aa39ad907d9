"""``mlbalance data``: statistics, figure and export of a data source.

Load a data source and print its statistics, draw its figure, or export its splits.

* ``mlbalance data stats SOURCE [--data PATH] [--json]`` — the paper's Table 1 and the group sizes;
* ``mlbalance data plot SOURCE --out FILE`` — the label-frequency / co-occurrence figure (PNG, PDF, SVG);
* ``mlbalance data export SOURCE --out DIR`` — ``train.jsonl``, ``validation.jsonl``, ``test.jsonl``
  (``{"id", "text", "labels"}`` per line), the folder format the readers take back.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from mlbalance.cli._common import add_command, add_option_flag, parse_option

#: Flags that become keyword arguments of ``load_corpus`` when given.
LOADER_FLAGS: dict[str, tuple[type, str]] = {
    "text_field": (str, "JSONL/CSV: name of the text field (default: text)"),
    "labels_field": (str, "JSONL/CSV: name of the labels field (default: labels)"),
    "label_delimiter": (str, "JSONL/CSV: separator of labels given as one string (default: ',')"),
    "split_field": (str, "JSONL/CSV: name of the split field (default: split)"),
    "validation_size": (float, "documents (>= 1) or fraction (< 1) of train split off for validation"),
    "seed": (int, "random state of the splits made while loading"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "data", __doc__)
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    stats = actions.add_parser("stats", help="print Table 1 and the head/medium/tail group sizes")
    _add_source(stats)
    stats.add_argument("--json", action="store_true", help="print the statistics as JSON")
    stats.add_argument("--top", type=int, default=10, help="how many of the most frequent labels to list")
    stats.set_defaults(func=run_stats)

    plot = actions.add_parser("plot", help="draw the label-frequency curve over the co-occurrence heatmap")
    _add_source(plot)
    plot.add_argument("--out", required=True, metavar="FILE", help="figure file: .png, .pdf or .svg")
    plot.add_argument(
        "--max-labels",
        type=int,
        default=200,
        help="above this many labels, the heatmap is averaged in blocks",
    )
    plot.add_argument("--dpi", type=int, default=120, help="resolution of a PNG")
    plot.set_defaults(func=run_plot)

    export = actions.add_parser("export", help="write the splits as train/validation/test.jsonl")
    _add_source(export)
    export.add_argument("--out", required=True, metavar="DIR", help="folder to write the three files into")
    export.add_argument("--overwrite", action="store_true", help="replace split files already in --out")
    export.set_defaults(func=run_export)


def _add_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="reuters21578, bioasq, synthetic:PRESET (tiny, small, reuters-like, pubmed-like), "
        "or a path to a JSONL/CSV file or a folder of split files",
    )
    parser.add_argument("--data", metavar="PATH", help="the archive or file a named source reads")
    for name, (kind, help_text) in LOADER_FLAGS.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, help=help_text)
    add_option_flag(parser, "any other loader option, e.g. -o held_out=5000 -o unseen_labels=drop")


def _load(args: argparse.Namespace) -> Any:
    from mlbalance.data import load_corpus

    options: dict[str, Any] = {}
    for name in LOADER_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            options[name] = int(value) if name == "validation_size" and value >= 1 else value
    for text in args.option:
        key, value = parse_option(text)
        options[key] = value
    from mlbalance.cli._common import TqdmProgress

    bar = TqdmProgress()  # told of generating a synthetic corpus and of reading a BioASQ file
    try:
        return load_corpus(args.source, args.data, progress=bar, **options)
    finally:
        bar.close()


def format_summary(row: dict[str, Any], stats: Any, top: int) -> str:
    """Table 1 and the groups as aligned text."""
    import numpy as np

    lines = [f"dataset: {row['dataset']}", ""]
    lines.append("Table 1")
    table = [
        (
            "documents (train / validation / test)",
            f"{row['train']:,} / {row['validation']:,} / {row['test']:,}",
        ),
        ("labels", f"{row['labels']:,}"),
        ("labels per training document", f"{row['labels_per_doc']:.2f}"),
        (
            "training documents per label (mean / median)",
            f"{row['docs_per_label_mean']:.1f} / {row['docs_per_label_median']:g}",
        ),
        ("label frequency (max / min)", f"{row['max_label_freq']:,} / {row['min_label_freq']:,}"),
        ("labels without a training document", f"{row['labels_without_train_docs']:,}"),
    ]
    width = max(len(k) for k, _ in table)
    lines += [f"  {k:<{width}}  {v}" for k, v in table]
    lines += [
        "",
        f"label groups by training frequency (head >= {row['head_min']}, tail <= {row['tail_max']})",
    ]
    lines += [f"  {g:<7} {row[g]:>7,}" for g in ("head", "medium", "tail")]
    lines += ["", "test documents by number of labels"]
    lines += [f"  {g:<13} {n:>7,}" for g, n in row["doc_groups_test"].items()]
    if top > 0:
        order = np.argsort(-stats.class_freq, kind="stable")[:top]
        lines += ["", f"most frequent labels (of {stats.n_labels:,})"]
        lines += [f"  {stats.names[i]:<30} {int(stats.class_freq[i]):>7,}" for i in order]
    return "\n".join(lines)


def run_stats(args: argparse.Namespace) -> int:
    corpus = _load(args)
    row = corpus.summary()
    if args.json:
        stats = corpus.stats()
        metadata = {
            k: (f"<{len(v)} values>" if isinstance(v, list | tuple) and len(v) > 100 else v)
            for k, v in corpus.metadata.items()
        }
        row = {**row, "mu": stats.mu, "r_db_mean": stats.r_db_mean, "r_db_median": stats.r_db_median}
        row["metadata"] = metadata
        print(json.dumps(row, indent=2, default=str))
    else:
        print(format_summary(row, corpus.stats(), args.top))
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from mlbalance._extras import require_extra

    require_extra("plots", "`mlbalance data plot`")
    from mlbalance.plots import plot_dataset, save_figure

    corpus = _load(args)
    path = save_figure(plot_dataset(corpus, max_labels=args.max_labels), args.out, dpi=args.dpi)
    print(f"figure written to {path}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from mlbalance.data.files import export_corpus

    corpus = _load(args)
    paths = export_corpus(corpus, args.out, overwrite=args.overwrite)
    for split, path in paths.items():
        print(f"{split:<10} {len(corpus.split(split)):>8,} documents  {path}")
    return 0
