"""The command line's entry points."""

import subprocess
import sys

from mlbalance import __version__
from mlbalance.cli import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_usage(capsys):
    assert main([]) == 0
    assert "usage: mlbalance" in capsys.readouterr().out


def test_module_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "mlbalance", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"mlbalance {__version__}"
