"""The layers of the code, read from the source: store/ has no module-level import cycle, format
readers do not import store/imports.py, media/ (decoding, below the store) imports nothing from
store/, pages/ or gradio, and in-process state hangs off the Store, not module globals."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of a top-level package."""
    out = {}
    for f in sorted((ROOT / package).rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: its top-level statements, inside top-level try
    and if blocks too (not `if TYPE_CHECKING:`), never inside functions or classes."""
    found, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            todo += node.body + node.orelse
        elif isinstance(node, ast.Try):
            todo += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
    return found


def imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement may load (`from a import b`: a and a.b)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [target] + [f"{target}.{a.name}" for a in node.names]


def import_graph(package: str, top_level_only: bool) -> dict[str, set[str]]:
    mods = modules(package)
    graph = {}
    for name, f in mods.items():
        tree = ast.parse(f.read_text(encoding="utf-8"))
        nodes = module_level_imports(tree) if top_level_only else [
            n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        graph[name] = {t for n in nodes for t in imported_names(n, name, f.name == "__init__.py")
                       if t in mods and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_store_has_no_module_level_import_cycle():
    graph = import_graph("store", top_level_only=True)
    assert len(graph) > 40
    found = cycles(graph)
    assert not found, ("module-level imports of store/ go round in a cycle; import the lower module's name "
                       "from where it is defined, or move what both need lower: "
                       + "; ".join(" -> ".join(c) + f" (edges: {[(a, sorted(graph[a] & set(c))) for a in c]})"
                                   for c in found))


def test_function_level_import_cycles_of_store_stay_small():
    """Function-level imports may reach up (an entry point's helper), but no cycle takes in the
    store's lower layers again: core, access's callers' data, formats, media wrappers, datasets."""
    found = cycles(import_graph("store", top_level_only=False))
    lower = {"store.core", "store.caches", "store.db", "store.objects", "store.events", "store.datasets",
             "store.media", "store.audio", "store.video", "store.imports", "store.import_records", "store.mirror",
             "store.runs", "store.samples", "store.formats", "store.formats.common", "store.formats.registry"}
    assert not [c for c in found if lower & set(c)], found
    assert all(len(c) <= 5 for c in found), found


def test_format_modules_do_not_import_store_imports_or_their_package():
    graph = import_graph("store", top_level_only=False)
    for name, deps in graph.items():
        if name.startswith("store.formats."):
            assert "store.imports" not in deps, f"{name} imports store/imports.py (imports uses formats, not back)"
            assert "store.formats" not in deps, f"{name} imports its package: import store/formats/registry.py"


FORBIDDEN_IN_MEDIA = ("store", "pages", "components", "gradio", "ui", "server", "api", "autolabel")


def test_media_imports_nothing_from_store_pages_or_gradio():
    mods = modules("media")
    assert {"media.images", "media.audio", "media.video", "media.vad"} <= set(mods)
    bad = []
    for name, f in mods.items():
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
                for target in imported_names(node, name, f.name == "__init__.py"):
                    if target.split(".")[0] in FORBIDDEN_IN_MEDIA:
                        bad.append(f"{f.relative_to(ROOT)}:{node.lineno} {target}")
    assert not bad, bad
    # and when imported for real, nothing of them is loaded on the way
    code = ("import sys, media, media.images, media.audio, media.video, media.vad\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN_IN_MEDIA!r})\n"
            "assert not bad, bad\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_no_module_globals_are_assigned_in_store_or_media():
    """State (caches, locks, loaded models) hangs off the Store (store/caches.py), so two stores in
    one process share none; a `global` statement or a cache stashed on the DuckDB handle is refused."""
    bad = []
    for package in ("store", "media"):
        for name, f in modules(package).items():
            tree = ast.parse(f.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Global):
                    bad.append(f"{f.relative_to(ROOT)}:{node.lineno} global {', '.join(node.names)}")
                elif isinstance(node, ast.Attribute) and node.attr == "__dict__" and "db" in ast.unparse(node.value):
                    bad.append(f"{f.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert not bad, bad


def test_two_stores_hold_their_own_caches(tmp_path):
    from store import Settings, open_store

    a = open_store(Settings(data_dir=tmp_path / "a", demo=False, image_cache_bytes=1 << 20, max_decodes=1))
    b = open_store(Settings(data_dir=tmp_path / "b", demo=False))
    try:
        assert a.caches is not b.caches
        for field in ("display", "decodes", "key_locks", "video_index", "vad", "sam", "auth", "mirror",
                      "publish_lock"):
            assert getattr(a.caches, field) is not getattr(b.caches, field), field
        assert a.caches.display.max_bytes == 1 << 20 and a.caches.decodes.limit == 1
        assert b.caches.display.max_bytes == b.settings.image_cache_bytes
    finally:
        a.close()
        b.close()
