"""Per-paper experiment logic, called by ``experiments/<paper>/run.py`` and the demo."""

import argparse


def experiment_parser(doc: str, *, set_help="override any config value (repeatable)",
                      set_metavar="KEY=VALUE"):
    """The arguments every ``experiments/<paper>/run.py`` shares: ``--output-dir``, ``--set``.

    The description is the first paragraph of the script's ``doc``; each script adds its own
    arguments (``--data``, ``--quick``, ...) to the returned parser.
    """
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output-dir", default="runs", help="where runs go (default: runs)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar=set_metavar,
                   help=set_help)
    return p
