"""How realistic and how learnable the default cardiomegaly phantom is (issue 14).

    .venv/bin/python benchmarks/phantom_realism.py                 # phantom statistics
    .venv/bin/python benchmarks/phantom_realism.py --cnn 15        # + a tiny CNN, 15 epochs
    .venv/bin/python benchmarks/phantom_realism.py --jsrt ../shared/data/jsrt_heart/mask

Prints, for ``generate_chest_xrays(n_patients, 2, size)`` with the default (realistic)
settings: generation time, the true-CTR distribution, the realised label noise, AP films,
the Bayes ceiling (exact CTR vs noisy label, patient bootstrap), a logistic regression on the
mask-measured CTR (without and with the AP flag) on held-out patients and, with ``--cnn``,
a tiny CNN's test AUROC. ``--jsrt`` measures the CTR of the JSRT SCR masks the default
distribution is fitted to. Results in ``docs/phantom.md``.
"""

import argparse
import time

import numpy as np


def jsrt_ctr(root):
    import glob
    import os

    import cv2

    from heartcv.data.synthetic import measure_ctr

    out = []
    for f in sorted(glob.glob(os.path.join(root, "heart", "*.png"))):
        name = os.path.basename(f)
        lungs = [cv2.imread(os.path.join(root, s, name), 0) for s in ("left_lung", "right_lung")]
        out.append(measure_ctr(cv2.imread(f, 0), np.maximum(*lungs)))
    c = np.array(out)
    m, s = c.mean(), c.std(ddof=1)
    skew = np.mean(((c - m) / c.std()) ** 3)
    print(f"JSRT ({len(c)} images): CTR mean {m:.4f} sd {s:.4f} skewness {skew:.2f}, "
          f"{(c > 0.5).sum()} above 0.5; min {c.min():.3f} median {np.median(c):.3f} "
          f"max {c.max():.3f}")


def tiny_cnn_auroc(x, y, train, test, epochs, seed=0):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inp = keras.Input(x.shape[1:])
    h = layers.Rescaling(1 / 255.0)(inp)
    for f in (16, 32, 64, 64):
        h = layers.Conv2D(f, 3, padding="same", activation="relu")(h)
        h = layers.BatchNormalization()(h)
        h = layers.MaxPooling2D()(h)
    h = layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h = layers.Dropout(0.3)(layers.Flatten()(h))
    model = keras.Model(inp, layers.Dense(1, activation="sigmoid")(h))
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    model.fit(x[train], y[train], batch_size=32, epochs=epochs, verbose=0, shuffle=True)
    return model.predict(x[test], verbose=0)[:, 0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-patients", type=int, default=500)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cnn", type=int, default=0, metavar="EPOCHS", help="train a tiny CNN")
    p.add_argument("--jsrt", default=None, help="JSRT mask folder (heart/, left_lung/, ...)")
    args = p.parse_args(argv)
    from sklearn.linear_model import LogisticRegression

    from heartcv.data.synthetic import bayes_ceiling, format_ceiling, generate_chest_xrays
    from heartcv.evaluation.roc import auroc, bootstrap_counts, percentile_ci, weighted_auc

    if args.jsrt:
        jsrt_ctr(args.jsrt)
    t = time.perf_counter()
    d = generate_chest_xrays(args.n_patients, 2, args.size, seed=args.seed)
    dt = time.perf_counter() - t
    print(f"generate_chest_xrays({args.n_patients}, 2, {args.size}): {dt:.1f} s "
          f"({1000 * dt / len(d['images']):.0f} ms per image)")
    ct = d["ctr_true"][::2]
    print(f"true CTR per patient: mean {ct.mean():.4f} sd {ct.std(ddof=1):.4f}, "
          f"{100 * (ct > 0.5).mean():.1f}% above 0.5, range {ct.min():.3f}-{ct.max():.3f}")
    y, yt = d["labels"][:, 0], d["labels_true"][:, 0]
    print(f"label noise: {100 * np.mean(y != yt):.1f}% of images flipped; "
          f"P(1|0)={np.mean(y[yt == 0] == 1):.3f} P(0|1)={np.mean(y[yt == 1] == 0):.3f}; "
          f"observed labels precision {np.mean(yt[y == 1]):.3f} recall {np.mean(y[yt == 1]):.3f}")
    ap = d["view_position"] == "AP"
    r = d["ctr"] / d["ctr_true"]
    print(f"AP films {100 * ap.mean():.1f}%: measured/true CTR {r[ap].mean():.3f} (AP), "
          f"{r[~ap].mean():.4f} (PA)")
    c = bayes_ceiling(d["ctr_true"], y, groups=d["patient_id"], n_boot=1000)
    print(format_ceiling(c), f"accuracy CI {np.round(c['accuracy_ci'], 3).tolist()}")
    pid = np.array([int(s[3:]) for s in d["patient_id"]])
    train, test = pid % 5 != 0, pid % 5 == 0
    ct_test = bayes_ceiling(d["ctr_true"][test], y[test], groups=pid[test], n_boot=1000)
    print(f"held-out 20% of patients ({test.sum()} images): ceiling {ct_test['auroc']:.3f} "
          f"{np.round(ct_test['auroc_ci'], 3).tolist()}")
    for name, x in (("mask-measured CTR", d["ctr"][:, None]),
                    ("mask-measured CTR + AP flag", np.c_[d["ctr"], ap, d["ctr"] * ap])):
        lr = LogisticRegression(C=100.0).fit(x[train], y[train])
        print(f"logistic regression on the {name}: test AUROC "
              f"{auroc(y[test], lr.decision_function(x[test])):.3f}")
    if args.cnn:
        t = time.perf_counter()
        s = tiny_cnn_auroc(d["images"].astype("float32"), y, train, test, args.cnn)
        _, idx = np.unique(pid[test], return_inverse=True)
        rng = np.random.default_rng(0)
        boots = np.concatenate([weighted_auc(y[test] == 1, s, w[idx])
                                for w in bootstrap_counts(idx.max() + 1, 1000, rng)])
        print(f"tiny CNN, {args.cnn} epochs, {train.sum()} training images: test AUROC "
              f"{auroc(y[test], s):.3f} {np.round(percentile_ci(boots, 0.95), 3).tolist()} "
              f"(clean labels {auroc(yt[test], s):.3f}); {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
