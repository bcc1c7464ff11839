"""``results.json``: the one file every ``experiments/<paper>/run.py`` writes for its numbers.

A flat mapping ``"<row>/<metric>" → number`` (``"cxa_densenet121/auroc"``, ``"mean/auroc"``,
``"ds2/S/sensitivity"``), so tables, READMEs and checks read one file instead of each run's
own layout. Keys are ``/``-joined parts without spaces at their ends; values are finite
numbers (bools and NaN are refused: a number that was not measured is left out, not
written as NaN). :func:`flatten` turns a nested dict of numbers into such keys. No keras or
TensorFlow here.
"""

from __future__ import annotations

import json
import math
from numbers import Real
from pathlib import Path

from heartcv.files import atomic_write_text

FILENAME = "results.json"


def _check_key(key) -> str:
    if not isinstance(key, str) or not key or any(p != p.strip() or not p for p in key.split("/")):
        raise ValueError(f"Expected a results key like 'row/metric' (non-empty parts, no "
                         f"surrounding spaces). Received: {key!r}")
    return key


def _check_value(key, value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ValueError(f"Expected a finite number for results key {key!r}. "
                         f"Received: {value!r}")
    return float(value) if not isinstance(value, int) else int(value)


def flatten(nested: dict, prefix: str = "", *, skip_non_numbers: bool = True) -> dict:
    """``{"a": {"b": 1.0}}`` → ``{"a/b": 1.0}``; non-numbers (and NaN) are left out.

    With ``skip_non_numbers=False`` a value that is neither a dict nor a finite number raises.
    """
    out = {}
    for k, v in nested.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(flatten(v, key, skip_non_numbers=skip_non_numbers))
            continue
        try:
            out[_check_key(key)] = _check_value(key, v)
        except ValueError:
            if not skip_non_numbers:
                raise
    return out


def write_results(out_dir, results: dict, *, announce: bool = True) -> Path:
    """Validate and write ``<out_dir>/results.json`` atomically; print its path when asked.

    ``results`` is a flat ``{"row/metric": number}`` mapping (use :func:`flatten` for nested
    ones). Every key and value is checked before anything is written. Returns the path.
    """
    if not isinstance(results, dict) or not results:
        raise ValueError(f"Expected a non-empty dict of results. Received: {results!r}")
    clean = {_check_key(k): _check_value(k, v) for k, v in results.items()}
    path = Path(out_dir) / FILENAME
    atomic_write_text(path, json.dumps(dict(sorted(clean.items())), indent=1) + "\n")
    if announce:
        print(f"results: {path}")
    return path


def read_results(path) -> dict:
    """Read a ``results.json`` (a file, or the folder holding one), checking its form."""
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"Cannot read results file {path}: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"Results file {path}: expected a JSON object of numbers")
    return {_check_key(k): _check_value(k, v) for k, v in data.items()}
