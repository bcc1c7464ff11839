"""A run's ``history.csv`` (Keras' CSVLogger): read and checked, cut back for a resumed run,
its best value so far, and its loss curves as a figure."""

from __future__ import annotations

import csv
import math
import textwrap
from pathlib import Path

import matplotlib
import yaml
from matplotlib.figure import Figure

from heartcv.files import atomic_path

__all__ = ["best_so_far", "plot_history", "read_history", "truncate_history"]


def read_history(history_csv: Path) -> list[dict]:
    """The rows of a run's ``history.csv`` (CSVLogger), checked: an int ``epoch`` and numbers.

    Raises:
        ValueError: a malformed line, naming the file and line number.
    """
    history_csv = Path(history_csv)
    if not history_csv.is_file():
        return []
    rows = []
    with open(history_csv, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return []
        if "epoch" not in header:
            raise ValueError(f"{history_csv}, line 1: expected a header with an `epoch` column. "
                             f"Received: {','.join(header)!r}")
        for fields in reader:
            line = reader.line_num
            if not fields:
                continue
            if len(fields) != len(header):
                raise ValueError(f"{history_csv}, line {line}: expected {len(header)} fields "
                                 f"({','.join(header)}). Received: {','.join(fields)!r}")
            row = dict(zip(header, fields))
            for key, value in row.items():
                try:
                    int(value) if key == "epoch" else (value == "" or float(value))
                except ValueError:
                    kind = "an int" if key == "epoch" else "a number"
                    raise ValueError(f"{history_csv}, line {line}: expected {kind} in column "
                                     f"`{key}`. Received: {key}={value!r}") from None
            rows.append(row)
    return rows


def truncate_history(history_csv: Path, epochs: int) -> None:
    """Keep the first ``epochs`` epochs of the log (a resumed or restarted run appends)."""
    rows = read_history(history_csv)
    kept = [r for r in rows if int(r["epoch"]) < epochs]
    if len(kept) == len(rows):
        return
    if not kept:
        history_csv.unlink()
        return
    with atomic_path(history_csv) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)


def best_so_far(history_csv: Path, monitor: str):
    values = [float(r[monitor]) for r in read_history(history_csv)
              if r.get(monitor) not in (None, "")]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return None
    return min(values) if "loss" in monitor else max(values)


def _run_title(run_dir: Path) -> str:
    """``"<model> (<run name>)"`` from a run directory's ``config.yaml``; "" without one."""
    try:
        tree = yaml.safe_load((Path(run_dir) / "config.yaml").read_text()) or {}
        model, name = tree["model"]["name"], tree.get("name")
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError):
        return ""
    return f"{model} ({name})" if name else str(model)


def plot_history(history_csv: Path, path: Path, title: str | None = None) -> Path | None:
    """Loss curves per epoch from the CSV log, titled with the model: ``title``, else the
    model and run name of the ``config.yaml`` beside the log."""
    matplotlib.use("Agg", force=False)
    rows = read_history(history_csv)
    if not rows:
        return None
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    epochs = [int(r["epoch"]) + 1 for r in rows]
    for key in ("loss", "val_loss"):
        if key in rows[0]:
            ax.plot(epochs, [float(r[key] or "nan") for r in rows], label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    title = _run_title(Path(history_csv).parent) if title is None else str(title)
    ax.set_title(textwrap.fill(title, 70), fontsize=10)  # 70 characters fit the 6-inch width
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    return path
