"""The installed package is what pyproject.toml promises: one version, the
compiled core, the typing marker, the command-line entry point."""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import json
import re
import sys
from pathlib import Path
from typing import Any

import fastchunk

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# The repository root, or the folder cibuildwheel copies tests/ and
# pyproject.toml into when it tests a wheel.
PROJECT = Path(__file__).resolve().parent.parent
DIST = importlib.metadata.distribution("fastchunk")


def pyproject() -> dict[str, Any]:
    with open(PROJECT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def is_editable_install() -> bool:
    text = DIST.read_text("direct_url.json")
    return bool(text) and json.loads(text).get("dir_info", {}).get("editable", False)


def test_version_has_a_single_source() -> None:
    config = pyproject()
    assert "version" in config["project"]["dynamic"]
    assert "version" not in config["project"]
    source = config["tool"]["scikit-build"]["metadata"]["version"]
    assert source["provider"] == "scikit_build_core.metadata.regex"
    text = (PROJECT / source["input"]).read_text()
    # scikit-build-core's default pattern for the regex provider.
    match = re.search(
        r"""(?i)^(__version__|VERSION)(?: ?: ?str)? *= *(['"])v?(?P<value>.+?)\2""",
        text,
        re.MULTILINE,
    )
    assert match is not None, f"no __version__ in {source['input']}"
    assert match.group("value") == fastchunk.__version__
    assert DIST.version == fastchunk.__version__
    assert importlib.metadata.version("fastchunk") == fastchunk.__version__


def test_imported_package_is_the_installed_distribution() -> None:
    # Guards against tests that import a source tree instead of the wheel.
    imported = Path(fastchunk.__file__).resolve()
    if is_editable_install():
        assert imported == (PROJECT / "src" / "fastchunk" / "__init__.py").resolve()
    else:
        assert imported == Path(str(DIST.locate_file("fastchunk/__init__.py"))).resolve()


def test_extension_module_is_compiled_and_inside_the_package() -> None:
    from fastchunk import _core

    path = Path(_core.__file__ or "")
    assert path.parent == Path(fastchunk.__file__).resolve().parent or is_editable_install()
    assert any(path.name.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES), path.name
    if not is_editable_install():
        recorded = {str(p) for p in DIST.files or []}
        assert f"fastchunk/{path.name}" in recorded


def test_py_typed_marker_is_shipped() -> None:
    marker = Path(fastchunk.__file__).resolve().parent / "py.typed"
    assert marker.is_file()
    if not is_editable_install():
        assert "fastchunk/py.typed" in {str(p) for p in DIST.files or []}
    assert "Typing :: Typed" in (DIST.metadata.get_all("Classifier") or [])


def test_metadata_declares_python_license_and_extras() -> None:
    meta = DIST.metadata
    assert meta["Requires-Python"] == pyproject()["project"]["requires-python"]
    assert meta["License-Expression"] == "MIT"
    extras = set(meta.get_all("Provides-Extra") or [])
    assert {"torch", "s3", "gcs", "bench", "test"} <= extras
    requires = meta.get_all("Requires-Dist") or []
    assert any(r.startswith("numpy") for r in requires)
    assert any(r.startswith("torch") and 'extra == "torch"' in r for r in requires)


def test_console_script_is_declared() -> None:
    scripts = {ep.name: ep.value for ep in DIST.entry_points if ep.group == "console_scripts"}
    assert scripts.get("fastchunk") == "fastchunk.tools.cli:main"


def test_extension_runs_without_the_gil_on_free_threaded_python() -> None:
    """On a free-threaded CPython (3.14t wheels) importing the extension must
    not turn the GIL back on: the module declares Py_MOD_GIL_NOT_USED. CPython
    warns naming each module that re-enables it; run in a fresh interpreter."""
    import os
    import subprocess
    import sysconfig

    code = (
        "import sys, warnings\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    import fastchunk._core\n"
        "print([str(w.message) for w in seen if 'GIL' in str(w.message)])\n"
        "print(getattr(sys, '_is_gil_enabled', lambda: True)())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.splitlines()
    warned, gil_enabled = out[0], out[1]
    assert "fastchunk" not in warned
    if sysconfig.get_config_var("Py_GIL_DISABLED") and warned == "[]":
        assert gil_enabled == "False"


def test_wheel_matrix_builds_314_and_free_threaded_314t() -> None:
    build = pyproject()["tool"]["cibuildwheel"]["build"].split()
    assert {"cp314-*", "cp314t-*"} <= set(build)
