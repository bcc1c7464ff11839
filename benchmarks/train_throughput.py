"""Training and forward throughput (images/s) of the paper models, per backend and precision.

For each model at its paper size (``cxa_densenet121`` and ``densenet121_gap`` 224², the
Cardio-XAttentionNet training size; ``vgg16_unet`` 256²; ``mitbih_vgg16`` 128²; all with
random weights, ``backbone_weights=None``), each precision (``float32``, ``mixed``:
Keras' ``mixed_float16`` policy) and each batch size, it times on the device Keras uses:

- ``forward``: ``model.predict_on_batch`` (the compiled inference step);
- ``train``: ``model.train_on_batch`` (forward, loss, gradients, Adam update);

``--warmup`` untimed steps first (compilation), then the median of ``--steps`` timed steps:
images/s = batch / median step time. Beside it, the input pipeline's delivered images/s for
the same size and batch (:func:`heartcv.data.batches.make_dataset` on uint8 images with the
default augmentation, training mode: ``tf.data`` under TensorFlow, the ``PyDataset`` under
other backends), so one sees whether the pipeline can feed the step.

One line per configuration is printed; ``--results FILE`` appends a Markdown table with the
machine, the command and the load average to ``FILE`` (``benchmarks/RESULTS.md``).

The backend is ``--backend`` (else ``KERAS_BACKEND``, else TensorFlow when installed, else
JAX); under JAX nothing imports TensorFlow, so this runs on a GPU machine that has only JAX.
Run once per backend, e.g.::

    .venv/bin/python benchmarks/train_throughput.py --results benchmarks/RESULTS.md
    KERAS_BACKEND=jax .venv-jax/bin/python benchmarks/train_throughput.py \\
        --results benchmarks/RESULTS.md

The full grid (4 models x 2 precisions x 3 batch sizes x 2 modes) takes minutes on a GPU;
on a 2-core CPU choose a subset (``--models``, ``--batch-sizes``, ``--precision``,
``--steps``, ``--modes``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import statistics
import sys
import time
from pathlib import Path

MODELS = {  # registry key -> paper input size (height = width)
    "cxa_densenet121": 224,
    "densenet121_gap": 224,
    "vgg16_unet": 256,
    "mitbih_vgg16": 128,
}
PRECISIONS = ("float32", "mixed")
MODES = ("forward", "train")


def _csv(kind, choices=None):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind}")
        if kind == "ints":
            try:
                items = [int(t) for t in items]
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected positive ints, got {text!r}") from None
            if min(items) < 1:
                raise argparse.ArgumentTypeError(f"expected positive ints, got {text!r}")
        elif choices is not None:
            bad = [t for t in items if t not in choices]
            if bad:
                raise argparse.ArgumentTypeError(f"unknown {kind} {bad}; choose from "
                                                 f"{', '.join(choices)}")
        return items
    return parse


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=("tensorflow", "jax"), default=None,
                   help="Keras backend (default: KERAS_BACKEND, else tensorflow if installed)")
    p.add_argument("--models", type=_csv("models", MODELS), default=list(MODELS),
                   help=f"comma-separated (default all: {','.join(MODELS)})")
    p.add_argument("--batch-sizes", type=_csv("ints"), default=[16, 32, 64])
    p.add_argument("--precision", type=_csv("precisions", PRECISIONS), default=list(PRECISIONS),
                   help="float32, mixed or both (default both)")
    p.add_argument("--modes", type=_csv("modes", MODES), default=list(MODES))
    p.add_argument("--steps", type=int, default=10, help="timed steps (median taken)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (compilation)")
    p.add_argument("--pipeline-batches", type=int, default=10,
                   help="batches timed for the pipeline column (0: skip it)")
    p.add_argument("--results", type=Path, default=None, help="append a table to this file")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.pipeline_batches < 0:
        p.error("--steps must be >= 1, --warmup and --pipeline-batches >= 0")
    return args


def choose_backend(flag):
    backend = flag or os.environ.get("KERAS_BACKEND")
    if backend is None:
        backend = "tensorflow" if importlib.util.find_spec("tensorflow") else "jax"
    os.environ["KERAS_BACKEND"] = backend
    return backend


def device_name(backend):
    if backend == "jax":
        import jax

        d = jax.devices()[0]
        return f"{d.platform.upper()} {getattr(d, 'device_kind', '')} x{len(jax.devices())}"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU {details.get('device_name', '')} x{len(gpus)}"
    return "CPU"


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _median_step(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def build(name, size, precision):
    import keras

    import heartcv

    keras.config.set_dtype_policy("mixed_float16" if precision == "mixed" else "float32")
    try:
        kwargs = {"input_shape": (size, size, 3), "backbone_weights": None}
        model = heartcv.build_model(name, **kwargs)
    finally:
        keras.config.set_dtype_policy("float32")
    act = getattr(model.layers[-1], "activation", None)
    multiclass = getattr(act, "__name__", "") == "softmax" and model.output_shape[-1] > 1
    model.compile(optimizer="adam",
                  loss="categorical_crossentropy" if multiclass else "binary_crossentropy")
    return model


def model_rates(model, batch, size, modes, warmup, steps):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")
    out_shape = (batch,) + tuple(model.output_shape[1:])
    y = np.zeros(out_shape, "float32")
    if len(out_shape) == 2 and out_shape[-1] > 1:
        y[np.arange(batch), rng.integers(0, out_shape[-1], batch)] = 1.0
    else:
        y[...] = rng.integers(0, 2, out_shape)
    rates = {}
    if "forward" in modes:
        rates["forward"] = batch / _median_step(lambda: model.predict_on_batch(x), warmup, steps)
    if "train" in modes:
        rates["train"] = batch / _median_step(lambda: model.train_on_batch(x, y), warmup, steps)
    return rates


def pipeline_rate(size, batch, n_batches):
    """Images/s delivered by make_dataset (augmented, training) at ``size``, ``batch``: the
    ``n_batches`` batches after the first (which starts the pipeline)."""
    import numpy as np

    from heartcv.data.batches import make_dataset, uses_tf_data

    if n_batches == 0:
        return None
    rng = np.random.default_rng(0)
    side = size + size // 4  # resized down to ``size`` like a bundle's larger images
    images = rng.integers(0, 255, (batch * (n_batches + 1), side, side), dtype=np.uint8)
    ds = make_dataset(images, np.zeros((len(images), 1), np.float32), batch_size=batch,
                      image_size=size, training=True, augment={"enabled": True}, seed=0)
    batches = iter(ds) if uses_tf_data() else (ds[i] for i in range(len(ds)))
    next(batches)  # the first batch starts the pipeline (tf.data traces its functions)
    t = time.perf_counter()
    seen = sum(int(xb.shape[0]) for xb, _ in batches)
    return seen / (time.perf_counter() - t)


def versions(backend):
    import keras

    if backend == "jax":
        import jax

        return f"JAX {jax.__version__}, Keras {keras.__version__}"
    import tensorflow as tf

    return f"TensorFlow {tf.__version__}, Keras {keras.__version__}"


def main(argv=None):
    args = parse_args(argv)
    backend = choose_backend(args.backend)
    if backend == "tensorflow":
        from heartcv._quiet import import_tensorflow_quietly

        import_tensorflow_quietly()
    import keras

    device = device_name(backend)
    head = (f"# train_throughput: backend={backend} ({versions(backend)}), device={device}, "
            f"host={cpu_name()} x{os.cpu_count()}")
    print(head, flush=True)
    rows = []
    t0 = time.time()
    for name in args.models:
        size = MODELS[name]
        for precision in args.precision:
            for batch in args.batch_sizes:
                try:
                    model = build(name, size, precision)
                    rates = model_rates(model, batch, size, args.modes, args.warmup, args.steps)
                    error = ""
                except Exception as err:  # an OOM or unsupported op must not end the grid
                    rates, error = {}, f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
                pipe = pipeline_rate(size, batch, args.pipeline_batches)
                row = dict(backend=backend, model=name, size=size, precision=precision,
                           batch=batch, **rates, pipeline=pipe, error=error)
                rows.append(row)
                cells = [f"{m}={rates[m]:.1f} img/s" for m in args.modes if m in rates]
                print(f"{backend} {name} {size}px {precision} batch={batch}: "
                      + (", ".join(cells) if cells else f"FAILED ({error})")
                      + (f", pipeline={pipe:.0f} img/s" if pipe is not None else ""), flush=True)
                keras.backend.clear_session()
    wall = time.time() - t0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {len(rows)} configurations in {wall:.0f} s; load average (1 min) {load:.1f}")
    if args.results is not None:
        append_results(args, rows, head, wall, load, backend)
    return 0


def _fmt(v):
    return "–" if v is None else f"{v:.1f}"


def append_results(args, rows, head, wall, load, backend):
    from heartcv.files import atomic_write_text

    cmd = " ".join([Path(sys.executable).name, *sys.argv])
    lines = [
        "",
        f"## Training throughput (`train_throughput.py`), {backend}, "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"**Machine:** {head.split(': ', 1)[1]}; load average (1 min) at the end {load:.1f}.",
        "",
        f"**Command:** `KERAS_BACKEND={backend} {cmd}` ({wall:.0f} s in all); "
        f"median of {args.steps} timed steps after {args.warmup} warm-up steps; random "
        "weights; pipeline = `make_dataset` augmented, training mode.",
        "",
        "| Model | Size | Precision | Batch | Forward img/s | Train img/s | Pipeline img/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["error"]:
            lines.append(f"| {r['model']} | {r['size']} | {r['precision']} | {r['batch']} | "
                         f"failed: {r['error']} | | {_fmt(r['pipeline'])} |")
            continue
        lines.append(f"| {r['model']} | {r['size']} | {r['precision']} | {r['batch']} | "
                     f"{_fmt(r.get('forward'))} | {_fmt(r.get('train'))} | "
                     f"{_fmt(r['pipeline'])} |")
    old = args.results.read_text() if args.results.is_file() else ""
    atomic_write_text(args.results, old.rstrip("\n") + "\n" + "\n".join(lines) + "\n")
    print(f"appended to {args.results}")


if __name__ == "__main__":
    sys.exit(main())
