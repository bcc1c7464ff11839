"""Issue 22: one batch builder. Only ``heartcv/data/batches/`` builds a ``tf.data`` pipeline
(``tf.data.Dataset.from_…``, ``.range``, ``.zip``…) or subclasses ``keras.utils.PyDataset``."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PKG = ROOT / "heartcv"
BUILDER = PKG / "data" / "batches"


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def batch_sources(source: str) -> list[str]:
    """What in ``source`` builds batches: ``Dataset.<constructor>`` uses and classes based on
    ``PyDataset`` (or Keras' older ``Sequence``), as ``"line: what"``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            name = _dotted(node)
            if ".Dataset." in f".{name}" and name.rsplit(".", 1)[0].endswith("Dataset"):
                found.append(f"{node.lineno}: {name}")
        elif isinstance(node, ast.ClassDef):
            for base in node.bases:
                name = _dotted(base)
                if name.split(".")[-1] in ("PyDataset", "Sequence"):
                    found.append(f"{node.lineno}: class {node.name}({name})")
    return found


def test_detector_finds_planted_pipelines():
    planted = ("import keras, tensorflow as tf\n"
               "ds = tf.data.Dataset.from_tensor_slices(([1], [2]))\n"
               "r = tf.data.Dataset.range(3)\n"
               "class B(keras.utils.PyDataset):\n    pass\n")
    assert sorted(f.split(":")[0] for f in batch_sources(planted)) == ["2", "3", "4"]
    assert batch_sources("x = ds.map(f).batch(2)\nclass C(object):\n    pass\n") == []


def test_only_the_batch_builder_makes_batches():
    offenders = {}
    for path in sorted(PKG.rglob("*.py")):
        if BUILDER in path.parents:
            continue
        found = batch_sources(path.read_text())
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}, (
        f"Build batches with heartcv.data.batches.batches(rows, ...), not here: {offenders}")


def test_the_builder_holds_both_engines():
    found = [f for p in BUILDER.glob("*.py") for f in batch_sources(p.read_text())]
    assert any("PyDataset" in f for f in found) and any("Dataset." in f for f in found)
