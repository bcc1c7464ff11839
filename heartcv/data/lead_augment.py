"""Augmentation of ECG lead volumes against source cues (issue 23), as one Keras Sequential.

The lead crops of one ECG copy differ from those of another source in ways that are not
cardiac: background level and texture, line thickness, gain (amplitude) and crop position.
:func:`build_lead_augmenter` chains the layers that vary each of them, per image, with the
argument pattern of :func:`heartcv.data.augment.build_augmenter` (a key left at None is
off): :class:`~heartcv.layers.RandomLeadBackground`,
:class:`~heartcv.layers.RandomLineThickness`, :class:`~heartcv.layers.RandomLeadWarp`.
Images are (N, H, W, 13) in [0, 255], bright trace on black; the layers are the identity at
inference, so the Sequential may also sit inside a model, after its input.
"""

from __future__ import annotations

import keras

from heartcv.layers.random_lead_background import RandomLeadBackground
from heartcv.layers.random_lead_warp import RandomLeadWarp
from heartcv.layers.random_line_thickness import RandomLineThickness

#: The defaults of ``build_lead_augmenter(default=True)``: every cue varied.
LEAD_DEFAULTS = {"background_level_range": (0.0, 60.0), "background_texture_std_range": (0.0, 6.0),
                 "thickness_p": 2 / 3, "amplitude_range": (0.8, 1.25), "shift": 0.08}


def build_lead_augmenter(background_level_range=None, background_texture_std_range=None,
                         thickness_p=None, amplitude_range=None, shift=None, seed=None,
                         name="lead_augment") -> keras.Sequential:
    """A ``keras.Sequential`` of the lead-crop augmentation layers asked for.

    Args:
        background_level_range: ``RandomLeadBackground`` levels (with
            ``background_texture_std_range``, default ``(0, 0)`` then); None: off.
        background_texture_std_range: its noise standard deviations.
        thickness_p: probability of changing the line width (half dilate, half erode);
            None or 0: off.
        amplitude_range: ``RandomLeadWarp`` amplitude factors (with ``shift``); None: off.
        shift: its largest shift, a fraction of the side (default 0 when only the
            amplitude is given).
        seed: base seed; layer ``i`` gets ``seed + i``.
        name: the Sequential's name.

    Returns:
        The Sequential (empty, the identity, when every key is off).
    """
    layers = []

    def s():
        return None if seed is None else int(seed) + len(layers)

    if background_level_range is not None or background_texture_std_range is not None:
        layers.append(RandomLeadBackground(
            level_range=background_level_range or (0.0, 0.0),
            texture_std_range=background_texture_std_range or (0.0, 0.0), seed=s(),
            name=f"{name}_background"))
    if thickness_p:
        layers.append(RandomLineThickness(p_dilate=thickness_p / 2, p_erode=thickness_p / 2,
                                          seed=s(), name=f"{name}_thickness"))
    if amplitude_range is not None or shift:
        layers.append(RandomLeadWarp(amplitude_range=amplitude_range or (1.0, 1.0),
                                     shift=shift or 0.0, seed=s(), name=f"{name}_warp"))
    return keras.Sequential(layers, name=name)
