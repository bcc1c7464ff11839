"""The least a script does to segment a folder of films (``predict_batch.py --films``'s baseline).

Decode each PNG grey (``cv2.imread``), resize it to the model's 256 px (``INTER_AREA``), one
batched ``model.predict`` (16 at a time), then threshold the masks at 0.5 and take the argmax
per pixel. Nothing else: no checks, no CTR, no QC, no CSV. ``import heartcv`` only so Keras
finds heartcv's layers in the saved model.

    python benchmarks/minimal_segment.py FOLDER --model models/jsrt_heart_lungs_vgg16_unet.h5
"""

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder")
    p.add_argument("--model", default="models/jsrt_heart_lungs_vgg16_unet.h5")
    p.add_argument("--size", type=int, default=256)
    args = p.parse_args(argv)
    import keras

    import heartcv  # noqa: F401 - registers the layers the saved model uses

    model = keras.models.load_model(args.model, compile=False)
    files = sorted(Path(args.folder).glob("*.png"))
    x = np.stack([cv2.resize(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), (args.size, args.size),
                             interpolation=cv2.INTER_AREA) for f in files])
    probs = model.predict(x[..., None].astype(np.float32), batch_size=16, verbose=0)
    masks = probs > 0.5
    labels = probs.argmax(axis=-1)
    print(f"{len(files)} films; mask pixels {int(masks.sum())}; "
          f"label histogram {np.bincount(labels.ravel(), minlength=probs.shape[-1]).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
