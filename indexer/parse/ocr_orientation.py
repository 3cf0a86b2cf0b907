"""A page scanned sideways or upside down: tesseract's orientation detection (OSD; osd.traineddata comes with
tesseract-ocr, from tesseract-ocr-osd).

    turn_needed(image, options, name, page) -> 0 | 90 | 180 | 270   (degrees clockwise that make it upright)

Asked only for a page that reads as (next to) nothing (indexer.parse.ocr_pages): a sideways page reads as
low-confidence garbage, all of it left out (indexer.parse.ocr_text), so an upright page costs nothing more.
A page OSD cannot judge (too few characters: it says so and fails) is taken as upright.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from indexer.parse.ocr import run
from indexer.parse.ocr_options import OcrOptions

if TYPE_CHECKING:
    from PIL.Image import Image

MIN_CONFIDENCE = 2.0  # tesseract's orientation confidence: a sideways or upside-down page of text scored 6.3-6.6
_ROTATE = re.compile(r"^Rotate:\s*(\d+)", re.M)
_CONFIDENCE = re.compile(r"^Orientation confidence:\s*([\d.]+)", re.M)


def turn_needed(image: "Image", options: OcrOptions, name: str, page: int | None) -> int:
    done = run(image, options, name, page, ["--psm", "0"])
    said = done.stdout.decode("utf-8", "replace")
    rotate, confidence = _ROTATE.search(said), _CONFIDENCE.search(said)
    if done.returncode != 0 or rotate is None or confidence is None or float(confidence.group(1)) < MIN_CONFIDENCE:
        return 0
    return int(rotate.group(1)) % 360
