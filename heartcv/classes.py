"""Class names of a model against those of a bundle: refuse a silent mismatch, map by name.

A classifier's card carries the ``class_names`` it was trained on (``heartcv train`` writes
them); a bundle carries its own. Scoring one on the other by column index is only right when
the names agree, so :func:`check_class_names` refuses any difference (one line naming both
lists) unless a class map (``--class-map old=new,...``, read by :func:`parse_class_map`) says
which model class each bundle class is. It returns the column order that lines the bundle's
labels up with the model's outputs. No Keras, no TensorFlow: ``evaluate`` and ``predict``
both call it.
"""

import numpy as np

__all__ = ["align_targets", "binary_class_names", "check_class_names", "negative_class_name",
           "parse_class_map"]


def negative_class_name(positive) -> str:
    """The name of a binary task's negative class when only the positive one is named:
    ``"not <positive>"``."""
    return f"not {positive}"


def binary_class_names(names, negative=None) -> list:
    """``[negative, positive]`` for a binary task whose labels name one class (``negative``,
    e.g. a bundle's ``negative_class`` attribute, else :func:`negative_class_name`); other
    name lists unchanged."""
    names = list(names)
    if len(names) != 1:
        return names
    return [str(negative or negative_class_name(names[0])), names[0]]


def parse_class_map(text) -> dict:
    """``"old=new,old2=new2"`` → ``{"old": "new", "old2": "new2"}`` (None or "" → ``{}``).

    Names are stripped of surrounding blanks and may contain spaces (``"Myocardial
    Infarction=MI"``).

    Raises:
        ValueError: an item without ``=``, an empty side, or a bundle name given twice.
    """
    if text is None or not str(text).strip():
        return {}
    out = {}
    for item in str(text).split(","):
        old, sep, new = item.partition("=")
        old, new = old.strip(), new.strip()
        if not sep or not old or not new:
            raise ValueError(f"Expected `--class-map` as old=new[,old=new...]. Received: "
                             f"{text!r} (item {item.strip()!r})")
        if old in out:
            raise ValueError(f"Expected each bundle class once in `--class-map`. Received: "
                             f"{old!r} twice in {text!r}")
        out[old] = new
    return out


def check_class_names(model_names, data_names, class_map=None, *, model="the model",
                      data="the bundle") -> np.ndarray:
    """The model output column of each bundle class, after ``class_map``; refuse a mismatch.

    Args:
        model_names: the model's class names (its card's ``class_names``), in output order.
        data_names: the bundle's class names, in label-column order.
        class_map: ``{bundle name: model name}`` (:func:`parse_class_map`); unmapped bundle
            names stand for themselves.
        model, data: how the one-line error names the model and the bundle.

    Returns:
        int array, one entry per bundle class: the model column it is scored against. The
        identity when the lists agree; a bundle may also hold a subset of the model's classes
        in any order (e.g. the MI sheets of another source).

    Raises:
        ValueError: a map entry naming no bundle class or no model class, two bundle classes
            mapped onto one model class, or a (mapped) bundle class the model does not have:
            one line naming both lists.
    """
    model_names = [str(n) for n in model_names]
    data_names = [str(n) for n in data_names]
    class_map = dict(class_map or {})
    unknown = sorted(set(class_map) - set(data_names))
    if unknown:
        raise ValueError(f"`--class-map` names {unknown}, not a class of {data}; its classes "
                         f"are {data_names}. Received: {class_map}")
    bad = sorted({v for v in class_map.values()} - set(model_names))
    if bad:
        raise ValueError(f"`--class-map` maps onto {bad}, not a class of {model}; its classes "
                         f"are {model_names}. Received: {class_map}")
    mapped = [class_map.get(n, n) for n in data_names]
    missing = [n for n in mapped if n not in model_names]
    if missing:
        shown = "" if mapped == data_names else f" (mapped: {mapped})"
        raise ValueError(f"Class names differ: {model} has {model_names}, {data} has "
                         f"{data_names}{shown}; pass --class-map old=new,... to map the "
                         f"bundle's classes onto the model's")
    twice = sorted({n for n in mapped if mapped.count(n) > 1})
    if twice:
        raise ValueError(f"Expected one bundle class per model class. Received: {twice} "
                         f"mapped from several of {data_names} ({class_map})")
    return np.asarray([model_names.index(n) for n in mapped], int)


def align_targets(targets, columns, num_classes) -> np.ndarray:
    """Bundle labels (N, K_data) → (N, ``num_classes``) in model column order
    (``columns`` from :func:`check_class_names`); model classes the bundle lacks are 0."""
    targets = np.asarray(targets, np.float32)
    out = np.zeros((len(targets), int(num_classes)), np.float32)
    out[:, np.asarray(columns, int)] = targets
    return out
