"""``IntensityNormalization``: per-image contrast normalisation inside the model."""


import keras
from keras import ops
from heartcv.registry import did_you_mean

METHODS = ("percentile", "histeq", "clahe", "percentile_histeq", "none")
_BINS = 256


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _clahe_padding(h, w, t):
    """Rows and columns OpenCV's CLAHE adds (reflected) before cutting ``t`` x ``t`` tiles.

    Nothing when both sides are multiples of ``t``; otherwise ``t - side % t`` on *each*
    axis, a full tile on an axis that already was a multiple (``clahe.cpp`` does this).
    Python ints stay ints (static shapes, as JAX needs); symbolic sizes give tensors.
    """
    if isinstance(h, int) and isinstance(w, int):
        if h % t == 0 and w % t == 0:
            return 0, 0
        return t - h % t, t - w % t
    need = ops.logical_or(ops.not_equal(h % t, 0), ops.not_equal(w % t, 0))
    return ops.where(need, t - h % t, 0), ops.where(need, t - w % t, 0)


@keras.saving.register_keras_serializable(package="heartcv")
class IntensityNormalization(keras.layers.Layer):
    """Map each image's intensities to a standard range, whatever the acquisition did.

    A model that only divides by 255 learns the grey levels of its training hospital; dimmed
    (a lower exposure), noisier or differently windowed films then fall outside what it has
    seen. Put this layer in front of :class:`~heartcv.layers.ImagePreprocessing`: it takes
    images in [0, 255] and returns float images in [0, 255] whose grey levels no longer
    depend on a global scaling or offset of the input.

    Methods:
        ``"percentile"`` (default): per image, the ``lower`` and ``upper`` percentiles over
            all pixels and channels (linear interpolation, as ``numpy.percentile``) are
            mapped to 0 and 255, the rest linearly, and clipped. Exactly invariant to
            ``a * x + b`` (``a > 0``) up to rounding. When the two percentiles coincide (an
            image that is mostly one value) the image's minimum and maximum are used instead;
            a constant image maps to 0.
        ``"histeq"``: global histogram equalisation, per image and channel, with 256 bins of
            width one grey level over [0, 255]: ``round(255 * (cdf(v) - cdf_min) / (n -
            cdf_min))``, the rule of ``cv2.equalizeHist`` (equal to it on uint8 images up to
            float rounding). A constant channel keeps its value, as in OpenCV.
        ``"clahe"``: contrast-limited adaptive histogram equalisation, per image and channel,
            following ``cv2.createCLAHE(clip_limit, (tile_grid, tile_grid))``: the image is
            padded at the bottom and right by reflection (``BORDER_REFLECT_101``, OpenCV's
            rule for how much), each of the ``tile_grid`` x ``tile_grid`` tiles of the padded
            image gets a 256-bin histogram clipped at
            ``max(int(clip_limit * tile_pixels / 256), 1)`` with the excess redistributed
            evenly (OpenCV's residual rule included), its mapping is the rounded cumulative
            histogram, and every pixel interpolates bilinearly between the four nearest tile
            mappings (tile centres at ``(i + 0.5) * tile_size``, OpenCV's convention).
            The one difference to OpenCV on uint8 images: the output is not rounded to
            integers (it is within 0.5 of ``cv2.createCLAHE(...).apply``, tested). Like
            OpenCV's, it is *not* invariant to dimming: the clipped excess is spread over all
            256 bins, including those a dim film never reaches, so a film at 45 % comes out
            darker; use ``"percentile"`` or ``"histeq"`` where that invariance matters.
        ``"percentile_histeq"``: ``"percentile"``, then ``"histeq"`` on its output. The
            stretch makes a dim film span all 256 bins again before the equalisation, which
            then removes what a linear stretch cannot: the *shape* of the grey-level
            distribution (a darker or brighter gamma, a different film curve). Invariant to
            ``a * x + b`` like ``"percentile"`` and, up to the 256-bin quantisation, to any
            increasing grey-level mapping.
        ``"none"``: cast to float, unchanged.

    Channels: ``"percentile"`` pools all channels of an image; ``"histeq"`` and ``"clahe"``
    work per channel, so grey replicated into 3 channels gives 3 identical grey results.

    Input: ``(N, H, W, C)`` in [0, 255], float or uint8; ``H`` and ``W`` may be unknown
    (``keras.Input((None, None, 1))``). ``"clahe"`` needs ``H, W > tile_grid``. Values
    outside [0, 255] fall into the end bins of ``"histeq"``/``"clahe"``. Output: float
    ``(N, H, W, C)`` in [0, 255].

    Args:
        method: one of ``METHODS``.
        lower: lower percentile for ``"percentile"``, in [0, 100).
        upper: upper percentile for ``"percentile"``, in (lower, 100].
        clip_limit: CLAHE clip limit (> 0), in multiples of the mean bin count
            (OpenCV's ``clipLimit``; 2.0 by default in both).
        tile_grid: CLAHE tiles per side (an int >= 1; OpenCV's default 8 x 8).

    Reference:
        Zuiderveld K. Contrast limited adaptive histogram equalization. Graphics Gems IV,
        474-485, 1994. OpenCV ``modules/imgproc/src/clahe.cpp`` and ``histogram.cpp``
        (``equalizeHist``).
    """

    def __init__(
        self, method="percentile", lower=1.0, upper=99.0, clip_limit=2.0, tile_grid=8, **kwargs
    ):
        super().__init__(**kwargs)
        if method not in METHODS:
            raise ValueError(f"Expected `method` in {METHODS}.{did_you_mean(method, METHODS)} "
                             f"Received: method={method!r}")
        for name, value in (("lower", lower), ("upper", upper), ("clip_limit", clip_limit)):
            if not _is_number(value):
                raise TypeError(f"Expected `{name}` to be a number. Received: {name}={value!r}")
        if not 0.0 <= lower < upper <= 100.0:
            raise ValueError(
                f"Expected percentiles with 0 <= lower < upper <= 100. "
                f"Received: lower={lower}, upper={upper}"
            )
        if not clip_limit > 0:
            raise ValueError(f"Expected `clip_limit` > 0. Received: clip_limit={clip_limit}")
        if isinstance(tile_grid, bool) or not isinstance(tile_grid, int) or tile_grid < 1:
            raise ValueError(
                f"Expected `tile_grid` to be an int >= 1. Received: tile_grid={tile_grid!r}"
            )
        self.method = method
        self.lower = float(lower)
        self.upper = float(upper)
        self.clip_limit = float(clip_limit)
        self.tile_grid = tile_grid

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"Expected images of shape (N, H, W, C). Received: input_shape={input_shape}"
            )
        super().build(input_shape)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        if self.method == "percentile":
            out = self._percentile(x)
        elif self.method == "histeq":
            out = self._histeq(x)
        elif self.method == "clahe":
            out = self._clahe(x)
        elif self.method == "percentile_histeq":
            out = self._histeq(self._percentile(x))
        else:
            out = x
        return ops.cast(out, self.compute_dtype)

    # ------------------------------------------------------------------------ percentile

    def _percentile(self, x):
        q = ops.convert_to_tensor([self.lower / 100.0, self.upper / 100.0], dtype="float32")
        lo, hi = ops.unstack(ops.quantile(x, q, axis=(1, 2, 3), keepdims=True), 2, axis=0)
        x_min = ops.min(x, axis=(1, 2, 3), keepdims=True)
        x_max = ops.max(x, axis=(1, 2, 3), keepdims=True)
        degenerate = (hi - lo) <= 1e-3
        lo = ops.where(degenerate, x_min, lo)
        hi = ops.where(degenerate, x_max, hi)
        span = hi - lo
        scale = ops.where(span > 1e-3, 255.0 / ops.maximum(span, 1e-3), 0.0)
        return ops.clip((x - lo) * scale, 0.0, 255.0)

    # -------------------------------------------------------------------------- histeq

    @staticmethod
    def _bins(x):
        return ops.cast(ops.floor(ops.clip(x, 0.0, _BINS - 1.0)), "int32")

    def _histeq(self, x):
        shape = ops.shape(x)
        n, c = shape[0], shape[3]
        b = self._bins(x)
        image = ops.reshape(ops.arange(n, dtype="int32"), (-1, 1, 1, 1)) * c
        image = image + ops.reshape(ops.arange(c, dtype="int32"), (1, 1, 1, -1))
        ids = image * _BINS + b  # (N, H, W, C): bin of each pixel in its own histogram
        hist = ops.segment_sum(
            ops.ones_like(ops.reshape(x, (-1,))),
            ops.reshape(ids, (-1,)),
            num_segments=n * c * _BINS,
        )
        cdf = ops.cumsum(ops.reshape(hist, (-1, _BINS)), axis=1)  # (N*C, 256)
        total = cdf[:, -1:]
        cdf_min = ops.min(ops.where(cdf > 0, cdf, total), axis=1, keepdims=True)
        denom = total - cdf_min
        lut = ops.round((cdf - cdf_min) * 255.0 / ops.maximum(denom, 1.0))
        lut = ops.clip(lut, 0.0, 255.0)
        # A constant channel keeps its value (cv2.equalizeHist does the same).
        keep = ops.cast(ops.arange(_BINS, dtype="int32"), "float32")[None, :]
        lut = ops.where(denom > 0, lut, keep)
        return ops.take(ops.reshape(lut, (-1,)), ids)

    # --------------------------------------------------------------------------- clahe

    def _clahe(self, x):
        t = self.tile_grid
        shape = ops.shape(x)
        n, h, w, c = shape
        pad_h, pad_w = _clahe_padding(h, w, t)
        xp = ops.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="reflect")
        th, tw = (h + pad_h) // t, (w + pad_w) // t  # tile size (of the padded image)

        # Histogram of every (image, tile row, tile col, channel): one segment_sum.
        def tile_of(size, tile):
            return ops.arange(size, dtype="int32") // tile

        ty = ops.reshape(tile_of(h + pad_h, th), (1, -1, 1, 1))
        tx = ops.reshape(tile_of(w + pad_w, tw), (1, 1, -1, 1))
        img = ops.reshape(ops.arange(n, dtype="int32"), (-1, 1, 1, 1))
        chan = ops.reshape(ops.arange(c, dtype="int32"), (1, 1, 1, -1))
        ids = (((img * t + ty) * t + tx) * c + chan) * _BINS + self._bins(xp)
        hist = ops.segment_sum(
            ops.ones_like(ops.reshape(xp, (-1,))),
            ops.reshape(ids, (-1,)),
            num_segments=n * t * t * c * _BINS,
        )
        hist = ops.reshape(hist, (-1, _BINS))  # (N*T*T*C, 256) in units of pixels

        # Clip and redistribute (OpenCV's integer rule).
        area = ops.cast(th * tw, "float32")
        limit = ops.maximum(ops.floor(self.clip_limit * area / _BINS), 1.0)
        excess = ops.sum(ops.maximum(hist - limit, 0.0), axis=1, keepdims=True)
        hist = ops.minimum(hist, limit)
        batch = ops.floor(excess / _BINS)
        residual = excess - batch * _BINS
        step = ops.maximum(ops.floor(_BINS / ops.maximum(residual, 1.0)), 1.0)
        idx = ops.cast(ops.arange(_BINS, dtype="int32"), "float32")[None, :]
        extra = ops.logical_and(
            ops.equal(ops.mod(idx, step), 0.0), ops.floor(idx / step) < residual
        )
        hist = hist + batch + ops.cast(extra, "float32")
        lut = ops.clip(ops.round(ops.cumsum(hist, axis=1) * (_BINS - 1.0) / area), 0.0, 255.0)
        lut = ops.reshape(lut, (-1,))

        # Bilinear interpolation between the four nearest tile mappings.
        def coords(size, tile):
            pos = ops.cast(ops.arange(size, dtype="int32"), "float32") / ops.cast(
                tile, "float32"
            ) - 0.5
            first = ops.floor(pos)
            frac = pos - first
            first = ops.cast(first, "int32")
            lo = ops.maximum(first, 0)
            hi = ops.minimum(first + 1, t - 1)
            return lo, hi, frac

        y1, y2, ya = coords(h, th)
        x1, x2, xa = coords(w, tw)
        y1, y2 = (ops.reshape(v, (1, -1, 1, 1)) for v in (y1, y2))
        x1, x2 = (ops.reshape(v, (1, 1, -1, 1)) for v in (x1, x2))
        ya = ops.reshape(ya, (1, -1, 1, 1))
        xa = ops.reshape(xa, (1, 1, -1, 1))
        b = self._bins(x)

        def lookup(yy, xx):
            return ops.take(lut, (((img * t + yy) * t + xx) * c + chan) * _BINS + b)

        top = lookup(y1, x1) * (1.0 - xa) + lookup(y1, x2) * xa
        bottom = lookup(y2, x1) * (1.0 - xa) + lookup(y2, x2) * xa
        return top * (1.0 - ya) + bottom * ya

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "method": self.method,
            "lower": self.lower,
            "upper": self.upper,
            "clip_limit": self.clip_limit,
            "tile_grid": self.tile_grid,
        }
