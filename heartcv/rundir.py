"""A run folder: its files, whether it finished, creating, clearing and sweeping it, and the
record of each finished cross-validation fold (``fold<i>/fold_results.json``)."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from heartcv.config import ConfigError, RunConfig
from heartcv.evaluation._common import to_jsonable
from heartcv.files import sweep_folder
from heartcv.history import read_history

__all__ = ["FOLD_RESULTS", "RunResult", "clear_run", "completed_run", "cv_paths",
           "finished_fold", "fold_key", "has_progress", "json_round_trip", "missing_top",
           "prepare_run_dir", "remove_stale_temps", "run_paths"]


@dataclasses.dataclass
class RunResult:
    run_dir: Path
    metrics: dict
    model_path: Path | None
    paths: dict
    already_complete: bool = False  # a finished run found and left as it was


#: a finished fold's results (with the hook's numbers), written when the fold is done
FOLD_RESULTS = "fold_results.json"


def run_paths(run_dir: Path) -> dict:
    return {"run_dir": run_dir, "table_md": run_dir / "report.md",
            "metrics_json": run_dir / "metrics.json", "model_h5": run_dir / "model.h5",
            "model_keras": run_dir / "model.keras", "figures": run_dir / "figures",
            "tensorboard": run_dir / "tensorboard", "history_csv": run_dir / "history.csv",
            "config": run_dir / "config.yaml", "card": run_dir / "model.card.json"}


def cv_paths(run_dir: Path, k: int) -> dict:
    """A k-fold run's files: the summary at the top (no model there), one ``model.h5`` and
    TensorBoard log per ``fold<i>``; ``tensorboard --logdir <run_dir>`` shows every fold."""
    folds = [run_dir / f"fold{i}" for i in range(1, k + 1)]
    return {"run_dir": run_dir, "table_md": run_dir / "report.md",
            "metrics_json": run_dir / "metrics.json", "figures": run_dir / "figures",
            "config": run_dir / "config.yaml", "tensorboard": run_dir, "folds": folds,
            "fold_models": [f / "model.h5" for f in folds]}


def completed_run(run_dir: Path, cfg: RunConfig) -> Path | None:
    """``metrics.json`` of a finished run in ``run_dir`` (its model and metrics written, no
    ``backup/`` left), else None."""
    metrics = run_dir / "metrics.json"
    if not metrics.is_file() or (run_dir / "backup").exists():
        return None
    if cfg.train.folds > 1:
        return None if any(run_dir.glob("fold*/backup")) else metrics
    return metrics if (run_dir / "model.h5").is_file() else None


def missing_top(run_dir: Path) -> Path | None:
    """The top folder of ``run_dir`` that does not exist yet (what creating it would add)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(errno.EEXIST, "exists and is not a folder", str(run_dir))
    created = None
    for folder in (run_dir, *run_dir.parents):
        if folder.exists():
            break
        created = folder
    return created


def prepare_run_dir(run_dir: Path) -> None:
    """Create ``run_dir`` and check that it takes files (read-only folders fail here)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=run_dir):
        pass


def has_progress(run_dir: Path) -> bool:
    return ((run_dir / "backup").exists() or (run_dir / "model.h5").exists()
            or any(run_dir.glob("fold*/backup")) or any(run_dir.glob(f"fold*/{FOLD_RESULTS}"))
            or bool(read_history(run_dir / "history.csv")))


def clear_run(run_dir: Path) -> None:
    """Remove a run's outputs for ``--overwrite``: renamed aside first, then deleted."""
    aside = run_dir.with_name(f".{run_dir.name}.overwritten-{os.getpid()}")
    os.replace(run_dir, aside)
    run_dir.mkdir()
    shutil.rmtree(aside, ignore_errors=True)


def remove_stale_temps(run_dir: Path) -> None:
    """Temporary files a killed run left behind (``.name.XXXXXXXX.tmp.ext``)."""
    for folder in (run_dir, run_dir / "backup", run_dir / "figures"):
        sweep_folder(folder)


def fold_key(cfg: RunConfig, test_ids) -> str:
    """What a fold is: its model and the sha256 of its test images' ids."""
    ids = hashlib.sha256("\n".join(map(str, test_ids)).encode()).hexdigest()
    return f"{cfg.model.name}:{ids}"


def json_round_trip(results: dict) -> dict:
    return json.loads(json.dumps(to_jsonable(results)))


def finished_fold(fold_dir: Path, key: str) -> dict | None:
    """The results of a fold that finished in an earlier run, else None (train it).

    Raises:
        ConfigError: the finished fold was another model or another split of the data.
    """
    path = fold_dir / FOLD_RESULTS
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        results = record["results"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        print(f"heartcv train: warning: {path} is unreadable; training the fold again",
              file=sys.stderr)
        return None
    if record.get("fold_key") != key:
        raise ConfigError(f"{path}: this fold was finished with another model or another split "
                          f"of the data; pass --overwrite to train the run again, or use "
                          f"another name")
    shutil.rmtree(fold_dir / "backup", ignore_errors=True)  # killed after the fold was written
    return results
