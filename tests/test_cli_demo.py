"""`fastchunk demo`: a command of the CLI (docs/architecture.md), as scripts/demo.sh runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastchunk.tools.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_demo_is_a_command_of_the_cli(tmp_path: Path, capsys) -> None:
    assert main(["demo", "--dates", "8", "--variables", "2", "--points", "2000",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "results identical to what was written" in out
    assert "speed-up" in out


def test_demo_is_listed_in_the_help() -> None:
    got = subprocess.run([sys.executable, "-m", "fastchunk", "--help"], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert got.returncode == 0 and "demo" in got.stdout
