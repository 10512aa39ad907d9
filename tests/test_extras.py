"""Optional extras: a missing one is a one-line error naming the pip command; figures are skipped."""

import importlib.util

import pytest

from mlbalance import _extras
from mlbalance.errors import ConfigError


@pytest.fixture
def without(monkeypatch):
    """``without("matplotlib", ...)``: those modules look uninstalled to mlbalance's checks."""
    real = importlib.util.find_spec

    def hide(*names):
        monkeypatch.setattr(
            _extras.importlib.util, "find_spec", lambda name, *a: None if name in names else real(name, *a)
        )

    return hide


def test_a_model_of_a_missing_extra_names_the_install_command(without):
    from mlbalance.models.registry import build_model

    without("transformers")
    for kind in ("transformer", "embedding", "hybrid"):
        with pytest.raises(ConfigError, match=r"model '\w+' needs the transformer extra \(transformers not "
                           r"installed\): pip install 'mlbalance\[transformer\]'"):  # fmt: skip
            build_model(kind)
    assert build_model("tfidf").name == "tfidf"


def test_training_without_the_plots_extra_writes_no_figures(tmp_path, without, fake_tfidf):
    from mlbalance.comparison import compare
    from mlbalance.experiment import train

    without("matplotlib")
    run = train("synthetic:tiny", model="tfidf", loss="db", out=tmp_path / "run")
    assert run.directory is not None and not (tmp_path / "run" / "plots").exists()
    compare("synthetic:tiny", losses="db", svm=False, out=tmp_path / "cmp")
    assert (tmp_path / "cmp" / "results.md").is_file() and not (tmp_path / "cmp" / "plots").exists()


def test_commands_of_missing_extras_say_how_to_install_them(tmp_path, without, capsys):
    from mlbalance.cli import main

    without("matplotlib", "fastapi", "ray")
    assert main(["data", "plot", "synthetic:tiny", "--out", str(tmp_path / "f.png")]) == 2
    assert "`mlbalance data plot` needs the plots extra (matplotlib not installed)" in capsys.readouterr().err
    assert main(["serve", str(tmp_path)]) == 2
    assert "`mlbalance serve` needs the serve extra (fastapi not installed)" in capsys.readouterr().err
    (tmp_path / "d.txt").write_text("x\n")
    assert main(["predict", str(tmp_path), "--input", str(tmp_path / "d.txt"), "--engine", "ray"]) == 2
    assert "--engine ray needs the ray extra (ray not installed)" in capsys.readouterr().err
