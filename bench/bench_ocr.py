"""OCR quality on scans drawn from the sample documents: character accuracy and "line starts kept" per
tesseract page segmentation mode (ocr_psm), Chinese and English, upright and with the faults the OCR steps
handle (sideways, upside down, tilted, darker on one side).

    .venv/bin/python bench/bench_ocr.py                    # all settings, documents and variants (~10 min on 2 cores)
    .venv/bin/python bench/bench_ocr.py --psm 3,4 --variants upright,rot180

Pages: the first page's worth of lines of three Chinese and three English documents (bank, hospital, school),
drawn with the CJK font the OCR tests use (tests/ocr_scans.py) at 300 DPI on A4 (12 pt body, the title at
18 pt), long lines wrapped at the margin as a word processor would. Each page is read by the real pipeline
(indexer.parse.ocr_pages.read_pages: lighting, deskew, orientation, tesseract, indexer.parse.ocr_text).

Measures, against the drawn text (NFKC, white space removed on both sides, so full-width "：" and ":" are the
same and tesseract's spaces do not count):
  accuracy      1 - edit distance / characters drawn
  line starts   share of drawn lines whose first 2 characters are in the text read, aligned (the Levenshtein
                alignment keeps them matched): "一、", "1.", the first character of a title
Writes bench/out/ocr.json.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import environment, write_json  # noqa: E402
from indexer.parse.ocr_options import OcrOptions  # noqa: E402
from indexer.parse.ocr_pages import read_pages  # noqa: E402
from indexer.parse.ocr_text import texts  # noqa: E402
from tests.ocr_scans import cjk_font  # noqa: E402

DOCUMENTS = {  # (language, domain): a plain-text document of the samples
    ("zh", "bank"): "data/sample/zh/online_banking_password_reset.txt",
    ("zh", "hospital"): "data/eval/domains/hospital/docs/zh/tanshi-peihu.txt",
    ("zh", "school"): "data/eval/domains/school/docs/zh/nanhu-health.txt",
    ("en", "bank"): "data/sample/en/lost_or_stolen_cards.txt",
    ("en", "hospital"): "data/eval/domains/hospital/docs/en/billing-and-insurance.txt",
    ("en", "school"): "data/eval/domains/school/docs/en/exams-and-reports.txt",
}
VARIANTS = ("upright", "rot90", "rot180", "tilt3", "dark")
DPI = 300
PAGE = (2480, 3508)  # A4 at 300 DPI
MARGIN = 250
BODY_PX, TITLE_PX = 50, 75  # 12 pt and 18 pt at 300 DPI
LEADING = 1.6
_NO_LINE_START = set("。，、；：？！）」』”’")  # kept at the end of the line before, as Chinese typesetting does


@dataclass
class Score:
    accuracy: float
    line_starts: float
    paragraphs: float  # share of the drawn paragraph breaks found where they were
    starts_lost: list[str]


@dataclass
class Result:
    language: str
    domain: str
    variant: str
    setting: str  # the page segmentation mode, "4>3": 4, and 3 for a page where 4 left a line out
    score: Score
    seconds: float  # CPU seconds of the tesseract runs (less sensitive than wall time to a shared machine's load)


def font_path() -> Path:
    font = cjk_font()
    if font is None:
        raise SystemExit("bench_ocr needs a CJK font (fonts-wqy-microhei: `make system-deps` installs it)")
    return font


def page_lines(path: Path, font) -> list[str]:
    """The document's lines wrapped at the right margin, as many as fit on one page (blank lines kept)."""
    out: list[str] = []
    width = PAGE[0] - 2 * MARGIN
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.rstrip()
        if set(line) <= set("=-"):  # a plain-text underline ("=====") or an empty line
            out.append("")
            continue
        words = line.split(" ") if line.isascii() else list(line)
        joiner = " " if line.isascii() else ""
        current = ""
        for word in words:
            candidate = f"{current}{joiner}{word}" if current else word
            if current and font.getlength(candidate) > width and word not in _NO_LINE_START:
                out.append(current)
                current = word
            else:
                current = candidate
        out.append(current)
    fit = (PAGE[1] - 2 * MARGIN - TITLE_PX) // int(BODY_PX * LEADING)
    return out[:fit]


def draw(lines: list[str], font_file: Path):
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", PAGE, 255)
    pen = ImageDraw.Draw(image)
    title, body = ImageFont.truetype(str(font_file), TITLE_PX), ImageFont.truetype(str(font_file), BODY_PX)
    y = MARGIN
    for i, line in enumerate(lines):
        size = TITLE_PX if i == 0 else BODY_PX
        if line:
            pen.text((MARGIN, y), line, font=title if i == 0 else body, fill=0)
        y += int(size * LEADING)
    return image


def variant(page, name: str):
    from PIL import Image, ImageChops, ImageFilter

    if name == "upright":
        return page.copy()
    if name == "rot90":
        return page.rotate(90, expand=True)
    if name == "rot180":
        return page.rotate(180)
    if name == "tilt3":
        return page.rotate(3, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    if name == "dark":  # a shadow deepening to the right, slightly blurred (as tests/indexer/test_ocr.py's photo)
        shadow = Image.linear_gradient("L").rotate(90).resize(page.size).point(lambda v: 255 - v * 0.55)
        return ImageChops.multiply(page, shadow).filter(ImageFilter.GaussianBlur(1))
    raise ValueError(f"unknown variant {name!r}: one of {', '.join(VARIANTS)}")


def normal(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def score(drawn: list[str], read: list[str]) -> Score:
    """`read` (OCR's lines, "" between paragraphs) against `drawn` (the page's lines, "" between paragraphs)."""
    from rapidfuzz.distance import Levenshtein

    truth_lines, truth_breaks = _joined(drawn)
    got_lines, got_breaks = _joined(read)
    truth, got = "".join(truth_lines), "".join(got_lines)
    matched = {}  # position in the drawn text -> position in the text read, for the characters read right
    for tag, t0, t1, g0, _ in Levenshtein.opcodes(truth, got):
        if tag == "equal":
            matched.update({t0 + i: g0 + i for i in range(t1 - t0)})
    starts, position = [], 0
    for line in truth_lines:
        starts.append(position in matched and (len(line) < 2 or position + 1 in matched))
        position += len(line)
    paragraphs = []
    for at in truth_breaks:
        first = next((matched[p] for p in range(at, at + 3) if p in matched), None)
        paragraphs.append(first is not None and any(first - 2 <= b <= first for b in got_breaks))
    accuracy = max(0.0, 1 - Levenshtein.distance(truth, got) / max(len(truth), 1))
    return Score(accuracy, sum(starts) / max(len(starts), 1), sum(paragraphs) / max(len(paragraphs), 1),
                 [line for line, kept in zip(truth_lines, starts) if not kept])


def _joined(lines: list[str]) -> tuple[list[str], list[int]]:
    """The non-blank lines, normalised, and the positions in their concatenation where a paragraph starts
    (after a blank line)."""
    out, breaks, position, blank = [], [], 0, False
    for line in lines:
        text = normal(line)
        if not text:
            blank = True
            continue
        if blank and out:
            breaks.append(position)
        out.append(text)
        position += len(text)
        blank = False
    return out, breaks


def _child_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _mean(results: list[Result], field: str) -> str:
    return f"{statistics.mean(getattr(r.score, field) for r in results):.3f}"


def print_table(results: list[Result], variants: list[str]) -> None:
    """Per mode and language: accuracy / line starts / paragraphs for each variant and all together."""
    print("\naccuracy / line starts kept / paragraph breaks kept\n")
    print("| psm | language | " + " | ".join(variants) + " | all | CPU s/page |")
    print("|---|---|" + "---|" * (len(variants) + 2))
    for setting in dict.fromkeys(r.setting for r in results):
        for language in ("zh", "en"):
            mine = [r for r in results if r.setting == setting and r.language == language]
            groups = [[r for r in mine if r.variant == name] for name in variants] + [mine]
            cells = [" / ".join(_mean(group, f) for f in ("accuracy", "line_starts", "paragraphs")) for group in groups]
            print(f"| {setting} | {language} | " + " | ".join(cells) +
                  f" | {statistics.mean(r.seconds for r in mine):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--psm", default="3,4,6,4>3", help="page segmentation modes to compare: 3 = tesseract's "
                        "automatic layout; 4>3 = 4, and 3 for a page where 4 left a line out (ocr_psm = 4, the default)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--languages", default="eng+chi_sim", help="ocr_languages for every page")
    args = parser.parse_args()
    from PIL import ImageFont

    font_file = font_path()
    body = ImageFont.truetype(str(font_file), BODY_PX)
    pages = {key: page_lines(REPO / path, body) for key, path in DOCUMENTS.items()}
    drawn = {key: draw(lines, font_file) for key, lines in pages.items()}
    results: list[Result] = []
    for setting in args.psm.split(","):
        psm, _, fallback = setting.partition(">")
        options = OcrOptions(languages=args.languages, psm=int(psm), fallback_psm=int(fallback) if fallback else None)
        for name in args.variants.split(","):
            for (language, domain), page in drawn.items():
                image = variant(page, name)
                start = _child_cpu()
                read = texts(read_pages(f"{domain}-{language}-{name}.png", [1], lambda _: (image, DPI), options, None)[1])
                seconds = _child_cpu() - start
                got = score(pages[(language, domain)], read)
                results.append(Result(language, domain, name, setting, got, seconds))
                print(f"psm {setting:4} {name:8} {language} {domain:9} accuracy {got.accuracy:.3f}  line starts "
                      f"{got.line_starts:.3f}  paragraphs {got.paragraphs:.3f}  {seconds:.1f} CPU s  starts lost: "
                      f"{' / '.join(line[:8] for line in got.starts_lost)}", flush=True)
    print_table(results, args.variants.split(","))
    write_json("ocr", {"environment": environment("pillow", "rapidfuzz"), "results": [asdict(r) for r in results]})


if __name__ == "__main__":
    main()
