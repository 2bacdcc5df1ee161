"""Import Gradio without its type-stub writer: about 40% of `import gradio`.

When Gradio defines each of its ~80 component classes, `gradio.component_meta` re-reads the
class's source file, parses it with `ast` twice and renders a Jinja template to keep a `.pyi` stub
next to it up to date (`create_or_modify_pyi`). The stubs are for editors and type checkers;
nothing reads them at run time. On a 2-core machine that is 3-4 s of every start of the app (and
of every test process that imports the UI), more than building the whole UI.

`skip_stub_writing()` makes that function a no-op for the imports that follow: call it before
anything imports gradio (app.py, tests/conftest.py). With a Gradio that has no such function, or
when gradio is already imported, it changes nothing.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

_MODULE = "gradio.component_meta"


def _no_stub(*_args, **_kwargs) -> None:
    return None


class _StubSkipper(importlib.abc.MetaPathFinder):
    """Finds gradio.component_meta the usual way, and replaces its stub writer once it is executed."""

    def find_spec(self, fullname, path, target=None):
        if fullname != _MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module):
            run(module)
            if callable(getattr(module, "create_or_modify_pyi", None)):
                module.create_or_modify_pyi = _no_stub

        loader.exec_module = exec_module  # this spec's own loader object
        return spec


def skip_stub_writing() -> bool:
    """Install the finder (once). True when it will act: gradio is not imported yet."""
    if _MODULE in sys.modules:
        return False
    if not any(isinstance(f, _StubSkipper) for f in sys.meta_path):
        sys.meta_path.insert(0, _StubSkipper())
    return True
