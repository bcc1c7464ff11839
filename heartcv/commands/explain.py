"""``heartcv explain PATH … --model M``: heatmaps (AMM attention, Grad-CAM(++), saliency,
deep Taylor); several inputs are predicted in batches as ``heartcv predict`` does, with one
overlay per image. Inputs are checked as for ``predict`` (the CLI runs
:func:`heartcv.commands.predict.check` first)."""

from heartcv.commands import EXIT_OK
from heartcv.commands.predict import print_prediction, run_batch, single_image
from heartcv.predict import predict_image


def run(args) -> int:
    if not single_image(args):
        return run_batch(args, overlays=True, method=args.method, alpha=args.alpha)
    result = predict_image(args.images[0], args.model, out_dir=args.out, method=args.method,
                           alpha=args.alpha, image_size=args.image_size)
    if "heatmap" in result:
        print(f"{result['heatmap']['method']} map {tuple(result['heatmap']['shape'])}")
    else:
        print_prediction(result)
    for path in result["written"]:
        print(f"wrote {path}")
    return EXIT_OK
