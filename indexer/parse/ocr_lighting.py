"""Uneven lighting evened out before OCR: a phone photo of a notice is darker on one side (a shadow, a lamp),
and tesseract's single threshold for the whole page lost the words on the dark side ("请于工作日办理。" read as
"请于工", "24小时内处理" as "24放").

    even_lighting(image) -> image   (grayscale; the same image when its paper is evenly lit)

The paper's brightness is estimated at 1/8 of the size (the lightest pixels around each point, blurred: the
text is dark and thin, so it drops out) and the page divided by it, making the paper white everywhere. Only
when the paper's brightness varies by more than 40 gray levels (5th to 95th percentile): dividing an evenly lit
but blurred, speckled scan cost it a line ("挂失请拨打客服热线" read as "PERT SINE,"); scans and the blurred one
varied by under 20 levels, the photo with a shadow by over 100.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

UNEVEN = 40  # gray levels


def paper_brightness(gray: "Image") -> "Image":
    from PIL import Image as PILImage
    from PIL import ImageFilter

    width, height = gray.size
    small = gray.resize((max(1, width // 8), max(1, height // 8)), PILImage.Resampling.BILINEAR)
    return small.filter(ImageFilter.MaxFilter(7)).filter(ImageFilter.GaussianBlur(4))


def spread(paper: "Image") -> float:
    import numpy as np

    values = np.asarray(paper, dtype=np.float32)
    low, high = np.percentile(values, [5, 95])
    return float(high - low)


def even_lighting(image: "Image") -> "Image":
    import numpy as np
    from PIL import Image as PILImage

    gray = image.convert("L")
    paper = paper_brightness(gray)
    if spread(paper) <= UNEVEN:
        return gray
    full = paper.resize(gray.size, PILImage.Resampling.BILINEAR)
    page = np.asarray(gray, dtype=np.float32)
    light = np.maximum(np.asarray(full, dtype=np.float32), 1.0)
    return PILImage.fromarray(np.clip(page / light * 255.0, 0, 255).astype(np.uint8))
