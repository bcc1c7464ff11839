"""What every ``heartcv prep`` dataset shares: its parser's options, errors, the conversion."""

import argparse
import sys
from pathlib import Path

from heartcv.data.convert import convert_index
from heartcv.files import check_output_file

# OSError covers FileNotFoundError, FileExistsError and heartcv.files.OutputPathError (a
# read-only or full output folder): all are reported as one line naming the path.
CONVERT_ERRORS = (OSError, ValueError)


def dataset_parser(prog, doc, *, raw_help, convert=True, seed=True,
                   epilog="See data_prep/README.md for where to get the data."):
    """An ArgumentParser with ``--raw`` and, when ``convert``, the bundle conversion options.

    ``seed=False`` leaves out ``--seed`` (for a dataset that draws no split).
    """
    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0], epilog=epilog,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raw", required=True, help=raw_help)
    if not convert:
        return p
    p.add_argument("--out", required=True, help="bundle to write (.h5)")
    p.add_argument("--size", type=int, default=320, help="output side in pixels (default 320)")
    if seed:
        p.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: all cores)")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="continue an interrupted conversion (default on)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress bar (default on)")
    return p


def run(prog, args, work) -> int:
    """Check ``--raw`` and ``--out`` (:func:`check_out`), run ``work()``; bad input → one
    line on stderr and exit code 2."""
    if not Path(args.raw).is_dir():
        print(f"{prog}: error: raw dataset folder not found: {args.raw}", file=sys.stderr)
        return 2
    try:
        if getattr(args, "out", None):
            check_out(args)
        work()
    except CONVERT_ERRORS as e:
        print(f"{prog}: error: {first_line(e)}", file=sys.stderr)
        return 2
    return 0


def first_line(err) -> str:
    """The first line of an error's message (its type name when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def check_out(args):
    """Refuse ``--out`` before any work: a folder, an existing bundle without ``--overwrite``,
    or a folder that is not writable (:func:`heartcv.files.check_output_file`)."""
    check_output_file(args.out, overwrite=getattr(args, "overwrite", False), what="Bundle")


def convert(index, args, *, channels=1, check=None):
    """``convert_index`` with the parser's options; prints the summary without a progress bar.

    ``check``: see :func:`heartcv.data.convert.convert_index` (an image refused is skipped).
    """
    result = convert_index(index, args.out, size=args.size, channels=channels,
                           workers=args.workers, resume=args.resume, overwrite=args.overwrite,
                           progress=args.progress, check=check)
    if not args.progress:
        print(result.summary())
    return result
