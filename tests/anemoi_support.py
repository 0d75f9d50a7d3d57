"""Datasets made by `anemoi-datasets create` and reference values from
`anemoi.datasets.open_dataset`, both computed in anemoi's own environment
(.venv-anemoi, made by scripts/setup.sh) as subprocesses."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "anemoi_reference.py"


def anemoi_python() -> str:
    """The Python of anemoi-datasets' environment, else skip (fail under
    FASTCHUNK_REQUIRE_ALL_TESTS)."""
    given = os.environ.get("FASTCHUNK_ANEMOI_PYTHON")
    path = Path(given) if given else HERE.parent / ".venv-anemoi" / "bin" / "python"
    if path.is_file():
        return str(path)
    if os.environ.get("FASTCHUNK_REQUIRE_ALL_TESTS"):
        pytest.fail(f"anemoi-datasets' environment is missing ({path}); scripts/setup.sh makes it")
    pytest.skip("needs anemoi-datasets' environment (.venv-anemoi, made by scripts/setup.sh)")


def anemoi_train_python() -> str:
    """The Python of anemoi-training's training environment (torch and
    torchvision that `anemoi-training train` imports), else skip (fail under
    FASTCHUNK_REQUIRE_ALL_TESTS)."""
    given = os.environ.get("FASTCHUNK_ANEMOI_TRAIN_PYTHON")
    path = Path(given) if given else HERE.parent / ".venv-anemoi-train" / "bin" / "python"
    if path.is_file():
        return str(path)
    if os.environ.get("FASTCHUNK_REQUIRE_ALL_TESTS"):
        pytest.fail(f"anemoi-training's environment is missing ({path}); scripts/setup.sh makes it")
    pytest.skip("needs .venv-anemoi-train (anemoi-training train's environment, scripts/setup.sh)")


def _run(args: list[str], timeout: float) -> None:
    env = dict(os.environ)
    for key in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(key, None)
    done = subprocess.run(
        [anemoi_python(), str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
        env=env,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"anemoi_reference.py {args[0]} failed:\n{done.stderr[-4000:]}")


_built: dict[str, dict[str, str]] = {}


def build_datasets(workdir: Path) -> dict[str, str]:
    """name -> path of the datasets of anemoi_reference.DATASETS, built once
    per test session."""
    if "paths" not in _built:
        _run(["create", str(workdir)], timeout=600)
        names = ("base", "other", "later", "lam")
        _built["paths"] = {n: str(workdir / f"{n}.zarr") for n in names}
    return _built["paths"]


def substitute(value: Any, paths: dict[str, str]) -> Any:
    """ "@name" strings become dataset paths, recursively."""
    if isinstance(value, str) and value.startswith("@"):
        return paths[value[1:]]
    if isinstance(value, list):
        return [substitute(v, paths) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, paths) for k, v in value.items()}
    return value


def reference(cases: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    """anemoi.datasets.open_dataset's properties and reads for every case."""
    cases_path, out_path = workdir / "cases.json", workdir / "reference.pkl"
    cases_path.write_text(json.dumps(cases))
    _run(["reference", str(cases_path), str(out_path)], timeout=600)
    with open(out_path, "rb") as f:
        return pickle.load(f)


def index(spec: Any) -> Any:
    """The JSON read specs of anemoi_reference.py as Python indices."""
    if isinstance(spec, list) and spec and spec[0] == "slice":
        return slice(*spec[1:])
    if isinstance(spec, list) and spec and spec[0] == "tuple":
        return tuple(index(s) for s in spec[1:])
    return spec
