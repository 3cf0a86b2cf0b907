"""A page photographed or fed in at an angle, straightened before OCR: tesseract's layout analysis finds text
lines on a tilt of a few degrees only; a phone photo of a notice at 7 degrees was read as fragments in the wrong
order ("itor parking Policy", "visitors May par", "g dollars per day."), and a Chinese one at 7 degrees, or
either at 10, as nothing at all.

    skew_angle(gray) -> degrees   (counter-clockwise turn that makes its text lines level; 0.0 when level)
    straightened(image) -> image  (turned level, white where the turn uncovers the corners; the same image if level)

The angle is the one whose turn makes the rows of ink most uneven (a projection profile: level lines give rows
of ink and rows of paper, a tilt smears them), searched on a copy at most 1000 pixels wide, in steps of 1
degree up to 15 either way, then of 0.2 around the best. Pages within 1 degree are left as they are:
tesseract reads them well, and a turn costs a little sharpness. Sideways or upside-down pages are
indexer.parse.ocr_orientation's.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_ANGLE = 15       # degrees either way; beyond, a page is rather turned (ocr_orientation) than tilted
LEVEL = 1.0          # degrees: a tilt under this is left alone
_WIDTH = 1000        # pixels: the copy the angle is searched on
_INK = 0.75          # a pixel darker than this share of the page's median brightness is ink
_MIN_INK = 0.001     # a page with less ink than this share (blank, a faint stamp) is taken as level


def _profile_score(ink: "Image", angle: float) -> float:
    import numpy as np

    rows = np.asarray(ink.rotate(angle), dtype=np.float32).sum(axis=1)
    return float(np.square(np.diff(rows)).sum())


def skew_angle(gray: "Image") -> float:
    import numpy as np
    from PIL import Image as PILImage

    scale = min(1.0, _WIDTH / max(gray.width, 1))
    small = gray if scale == 1.0 else gray.resize((max(1, round(gray.width * scale)),
                                                  max(1, round(gray.height * scale))), PILImage.Resampling.BOX)
    pixels = np.asarray(small.convert("L"), dtype=np.float32)
    ink = pixels < _INK * float(np.median(pixels))
    if ink.mean() < _MIN_INK:
        return 0.0
    ink_image = PILImage.fromarray(ink.astype(np.uint8) * 255)
    best = max(range(-MAX_ANGLE, MAX_ANGLE + 1), key=lambda a: _profile_score(ink_image, float(a)))
    fine = [best + step / 5 for step in range(-5, 6)]
    return round(max(fine, key=lambda a: _profile_score(ink_image, a)), 1)


def straightened(image: "Image") -> "Image":
    from PIL import Image as PILImage

    gray = image.convert("L")
    angle = skew_angle(gray)
    if abs(angle) < LEVEL:
        return gray
    return gray.rotate(angle, resample=PILImage.Resampling.BICUBIC, expand=True, fillcolor=255)
