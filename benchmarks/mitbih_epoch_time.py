"""Time per training epoch of the MIT-BIH beat models on this machine (CPU).

    .venv/bin/python benchmarks/mitbih_epoch_time.py [--models beat_cnn beat_rr small_cnn vgg16]
        [--steps 20] [--batch-size 128] [--size 64]

For each model of ``heartcv.papers.mitbih_ecg_beats.fast.MODELS`` it builds the model as the
experiment does, runs a warm-up step, then times ``--steps`` training steps on random beat
images (and RR features) of batch ``--batch-size``, and ``--steps`` prediction batches, and
extrapolates to one epoch of the intra-patient training split (78,771 beats, the beat-level
split less its 10% validation) and of DS1 less the validation records (42,528 beats). For
``vgg16`` (base frozen) a training step is the frozen base's forward pass plus the head's
step, the same work as ``fit`` on the whole model. Prints the load average (the machine is
shared: times are upper bounds of what an idle machine gives).
"""

import argparse
import os
import time

import numpy as np

EPOCH_BEATS = {"intra": 78_771, "inter (DS1 less validation)": 42_528}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["beat_cnn", "beat_rr", "small_cnn", "vgg16"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--size", type=int, default=64)
    args = p.parse_args(argv)
    import keras

    from heartcv.papers.mitbih_ecg_beats import fast

    rng = np.random.default_rng(0)
    b, s = args.batch_size, args.size
    print(f"batch {b}, {s} x {s} px, {args.steps} steps; load average before: "
          f"{os.getloadavg()}")
    print("| Model | Parameters | Train ms/beat | Predict ms/beat | "
          + " | ".join(f"Epoch {k} ({v:,} beats), min" for k, v in EPOCH_BEATS.items()) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(EPOCH_BEATS))
    for key in args.models:
        model = fast.build_model(key, s, 6)
        ch = 3 if key == "vgg16" else 1
        x = rng.integers(0, 256, (b, s, s, ch)).astype(np.float32)
        rr = rng.random((b, 6)).astype(np.float32)
        y = rng.integers(0, 5, b)
        inputs = {"image": x, "rr": rr} if key == "beat_rr" else x
        if key == "vgg16":
            feats, head = fast._vgg_parts(model)
            head.compile(optimizer=keras.optimizers.Adam(1e-3),
                         loss="sparse_categorical_crossentropy")

            def step():
                f = feats.predict_on_batch(x)
                head.train_on_batch(f, y)
        else:
            model.compile(optimizer=keras.optimizers.Adam(1e-3),
                          loss="sparse_categorical_crossentropy")

            def step():
                model.train_on_batch(inputs, y)
        step()
        t = time.perf_counter()
        for _ in range(args.steps):
            step()
        train = (time.perf_counter() - t) / (args.steps * b)
        model.predict_on_batch(inputs)
        t = time.perf_counter()
        for _ in range(args.steps):
            model.predict_on_batch(inputs)
        pred = (time.perf_counter() - t) / (args.steps * b)
        cells = [f"{n * train / 60:.1f}" for n in EPOCH_BEATS.values()]
        print(f"| {key} | {model.count_params():,} | {1000 * train:.2f} | {1000 * pred:.2f} | "
              + " | ".join(cells) + " |", flush=True)
        keras.backend.clear_session()
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
