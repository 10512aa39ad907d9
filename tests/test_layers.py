"""The package's structure: every import (function-level ones included) goes to the same layer or a
lower one, no modules import each other in a circle, and a module over 500 lines says why at its top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "mlbalance"

#: Module (or package prefix) -> layer; a module may import from its own layer and the ones below.
LAYERS: dict[str, int] = {
    "mlbalance.errors": 0,
    "mlbalance._atomic": 0,
    "mlbalance._checks": 0,
    "mlbalance._extras": 0,
    "mlbalance._version": 0,
    "mlbalance._ray": 0,
    "mlbalance.progress": 0,
    "mlbalance.losses": 1,
    "mlbalance.data": 1,
    "mlbalance.training": 2,
    "mlbalance.evaluation": 2,
    "mlbalance.out_of_fold": 2,
    "mlbalance.plots": 2,
    "mlbalance.predictions": 2,
    "mlbalance.models.features": 2,
    "mlbalance.models.lazy_sgd": 2,
    "mlbalance.models.lazy_adam": 2,
    "mlbalance.models.text_batches": 2,
    "mlbalance.models.encoders": 2,
    "mlbalance.models": 3,
    "mlbalance.config": 3,
    "mlbalance.config_files": 3,
    "mlbalance.runs": 4,
    "mlbalance.reporting": 4,
    "mlbalance.export": 4,
    "mlbalance.experiment": 5,
    "mlbalance.reevaluation": 5,
    "mlbalance.comparison": 6,
    "mlbalance.tune": 6,
    "mlbalance.tune_space": 6,
    "mlbalance.tune_ray": 6,
    "mlbalance.batch_predict": 6,
    "mlbalance.serving": 6,
    "mlbalance.cli": 7,
    "mlbalance.__main__": 7,
    "mlbalance": 8,  # the package root: the lazily re-exported public API
}


def module_names() -> dict[str, Path]:
    names = {}
    for path in SOURCE.rglob("*.py"):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[name] = path
    return names


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports, anywhere in its file."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or node.level):
            base = node.module or ""
            if node.level:
                prefix = package
                for _ in range(node.level - 1):
                    prefix = prefix.rpartition(".")[0]
                base = f"{prefix}.{base}" if base else prefix
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("mlbalance") and target != name:
                found.add(target)
    return found


def layer_of(name: str) -> int | None:
    """The layer of ``name``: its own entry or its package's (the root's only for the root itself)."""
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if name == prefix or (prefix != "mlbalance" and name.startswith(prefix + ".")):
            return LAYERS[prefix]
    return None


GRAPH = {name: imports_of(name, path, module_names()) for name, path in module_names().items()}


def test_every_module_has_a_layer():
    assert [name for name in GRAPH if layer_of(name) is None] == []


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_go_to_the_same_layer_or_below(name):
    upward = {target: layer_of(target) for target in GRAPH[name] if layer_of(target) > layer_of(name)}
    assert upward == {}, f"{name} (layer {layer_of(name)}) imports from higher layers: {upward}"


def test_no_import_circle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(GRAPH[name]):
            if state.get(target) == 1:
                circle = [*path[path.index(target) :], target]
                pytest.fail("import circle: " + " -> ".join(circle))
            if target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])


def test_the_layer_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "data.py"
    module.write_text("def f():\n    from mlbalance.experiment import train\n")
    found = imports_of("mlbalance.data.fake", module, module_names())
    assert found == {"mlbalance.experiment"} and layer_of("mlbalance.experiment") > layer_of("mlbalance.data")


def test_the_version_matches_the_package_metadata():
    from mlbalance import __version__

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((SOURCE.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert __version__ == project["version"]


def test_a_module_over_500_lines_says_why_at_its_top():
    long = {}
    for name, path in module_names().items():
        text = path.read_text(encoding="utf-8")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if text.count("\n") > 500 and "One module of" not in docstring:
            long[name] = text.count("\n")
    assert long == {}
