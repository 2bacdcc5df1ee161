"""Labelport: `python app.py` serves the labeling portal; `python app.py COMMAND` runs the CLI."""
from __future__ import annotations

import sys

from cli import COMMANDS


def main(argv: list[str]) -> int:
    if argv and (argv[0] in COMMANDS):
        from cli import main as cli_main

        return cli_main(argv)
    from gradio_import import skip_stub_writing

    skip_stub_writing()  # before the UI imports gradio: its editor stubs cost seconds of each start
    from server import serve

    return serve(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
