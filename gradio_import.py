"""Import Gradio without its type-stub writer: about 40% of `import gradio`.

When Gradio defines each of its ~80 component classes, `gradio.component_meta` re-reads the
class's source file, parses it with `ast` twice and renders a Jinja template to keep a `.pyi` stub
next to it up to date (`create_or_modify_pyi`). The stubs are for editors and type checkers;
nothing reads them at run time. On a 2-core machine that is 3-4 s of every start of the app (and
of every test process that imports the UI), more than building the whole UI.

`skip_stub_writing()` makes that function a no-op for the imports that follow: call it before
anything imports gradio (app.py, tests/conftest.py). With a Gradio that has no such function, or
when gradio is already imported, it changes nothing.

`lean_build()` and `mount()` leave out the work of a start that Gradio throws away (see there).
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from contextlib import contextmanager

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


# -- building and mounting the UI without the throwaway apps --------------------------------------
# With Gradio 6.31, ``gr.Blocks()`` (its queue()) and the end of ``with gr.Blocks()`` each build a
# FastAPI app of ~80 routes (and, for the second, two full configs of the UI), and
# ``mount_gradio_app`` computes the full config twice (before and after it sets the CSS and JS, in
# its MCP check): three apps and four configs, of which one app and one config serve. With this
# UI's ~940 components that is a third of building it (about 1.5 s of a start on two cores).


@contextmanager
def lean_build():
    """While the Blocks are built: no app and no config (``mount`` makes the ones that serve)."""
    from gradio.blocks import Blocks
    from gradio.routes import App

    real_create, real_config = App.__dict__["create_app"], Blocks.__dict__["get_config_file"]
    App.create_app = staticmethod(lambda *_args, **_kwargs: None)
    Blocks.get_config_file = _empty_config  # what Blocks.__exit__ calls
    try:
        yield
    finally:
        App.create_app, Blocks.get_config_file = real_create, real_config


def _empty_config(_self) -> dict:
    return {}


def mount(app, blocks, **kwargs):
    """``gr.mount_gradio_app(app, blocks, **kwargs)`` computing the UI's config once (its first
    computation, before the CSS and JS are set, is replaced), then ``blocks.app`` set to the
    mounted Gradio app: Gradio's queue runs the events through ``blocks.app``."""
    import gradio as gr

    calls = []

    def config_once():
        calls.append(1)
        if len(calls) == 1:  # mount_gradio_app's first, overwritten by its MCP check's
            return {}
        return type(blocks).get_config_file(blocks)

    blocks.get_config_file = config_once
    try:
        gr.mount_gradio_app(app, blocks, **kwargs)
    finally:
        del blocks.get_config_file
    blocks.app = app.router.routes[-1].app  # the Mount mount_gradio_app added last
    if not blocks.config.get("components"):
        raise RuntimeError("the UI's config is empty after mounting: Gradio's start-up changed (gradio_import.py)")
    return app
