"""Facts about the source tree that the code relies on: the files the C++
core's comments and includes name exist, and codec names live in one place
(the core's registry, csrc/codecs/registry.cc)."""

from __future__ import annotations

import re
from pathlib import Path

from fastchunk import _core

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
# "codecs/chain.h", plan/region_copy.h: paths of the core's own files.
PATH_REF = re.compile(r"\b((?:api|cache|codecs|common|encode|engine|io|plan|scan|transform)"
                      r"/[A-Za-z0-9_]+\.(?:h|cc))\b")


def test_every_core_file_a_source_names_exists() -> None:
    missing = []
    for src in sorted(CSRC.rglob("*")):
        if src.suffix not in (".h", ".cc"):
            continue
        for ref in PATH_REF.findall(src.read_text()):
            if not (CSRC / ref).is_file():
                missing.append(f"{src.relative_to(ROOT)} names {ref}")
    assert not missing, missing


def test_no_python_module_lists_native_codecs() -> None:
    """Tables of codec names (ids, native sets) outside the registry drift
    from it: no line of the Python layer names two registered codecs."""
    names = {row["name"] for row in _core.codecs()}
    quoted = re.compile(r"""["']([A-Za-z0-9_.]+)["']""")
    found = []
    for src in sorted((ROOT / "src" / "fastchunk").rglob("*")):
        if src.suffix not in (".py", ".pyx", ".pxi"):
            continue
        for number, line in enumerate(src.read_text().splitlines(), 1):
            listed = {q.removeprefix("numcodecs.") for q in quoted.findall(line)} & names
            if len(listed) >= 2:
                found.append(f"{src.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, found


def test_only_the_fork_safe_lock_registers_fork_handlers() -> None:
    """Every global lock is a ForkSafeMutex (one lock order, one set of fork
    handlers): no other file calls pthread_atfork or guards a global with a
    bare std::mutex registered on its own."""
    found = [
        str(src.relative_to(ROOT))
        for src in sorted(CSRC.rglob("*.cc")) + sorted(CSRC.rglob("*.h"))
        if "pthread_atfork" in src.read_text() and src.stem not in ("fork_safe_mutex",)
    ]
    assert not found, found


def _imports(path: Path) -> set[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_torch_knows_no_anemoi_and_its_modules_no_cycle() -> None:
    package = ROOT / "src" / "fastchunk" / "torch"
    modules = {p.stem: _imports(p) for p in package.glob("*.py")}
    for name, imports in modules.items():
        assert not [i for i in imports if i.startswith("fastchunk.anemoi")], name
    # dataset -> transform, never back (even under TYPE_CHECKING)
    assert "fastchunk.torch.transform" in modules["dataset"]
    assert "fastchunk.torch.dataset" not in modules["transform"]


def _module_imports() -> dict[str, set[str]]:
    """fastchunk's modules and the fastchunk modules each imports anywhere in
    its text: at the top, inside functions, under TYPE_CHECKING."""
    import ast

    src = ROOT / "src"
    files = {}
    for p in (src / "fastchunk").rglob("*.py"):
        name = ".".join(p.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        files[name] = p
    known = set(files) | {"fastchunk._core"}
    graph: dict[str, set[str]] = {}
    for name, p in files.items():
        edges = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in known}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                subs = {f"{node.module}.{a.name}" for a in node.names} & known
                edges |= subs
                if len(subs) < len(node.names) and node.module in known:
                    edges.add(node.module)
        graph[name] = edges
    return graph


def test_no_import_cycles_between_modules() -> None:
    """No module reaches itself through imports, lazy and type-checking ones
    included (zarr/metadata -> zarr/strings -> zarr/chunk_keys -> metadata
    was one). The package's __init__, the public facade that a few modules
    import lazily as `fastchunk`, is left out."""
    graph = _module_imports()
    graph.pop("fastchunk", None)
    cycles = []
    for start in sorted(graph):
        seen = {start: [start]}
        todo = [start]
        while todo:
            v = todo.pop()
            for w in sorted(graph.get(v, ())):
                if w == start:
                    cycles.append(" -> ".join([*seen[v], start]))
                    todo = []
                    break
                if w in graph and w not in seen:
                    seen[w] = [*seen[v], w]
                    todo.append(w)
    assert not cycles, cycles


def test_cache_singletons_are_bound_through_the_api() -> None:
    """The Cython boundary reaches the core's singletons (the caches, the
    mappings) only through api/ functions, which catch what they throw: no
    `instance()` is declared or called in includes/*.pxd or the .pxi files."""
    package = ROOT / "src" / "fastchunk"
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in sorted([*package.glob("*.pxi"), *package.glob("*.pyx"),
                         *(package / "includes").glob("*.pxd")])  # fmt: skip
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if "instance()" in line
    ]
    assert not found, found
