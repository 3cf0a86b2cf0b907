"""Headings OCR finds on scans (indexer.parse.ocr_headings): true and false ones, Chinese and English, upright
and with the faults the OCR steps handle (sideways, upside down, tilted, darker on one side).

    .venv/bin/python bench/bench_ocr_headings.py                           # ~6 min on 2 shared cores
    .venv/bin/python bench/bench_ocr_headings.py --variants upright,tilt3 --cache /tmp/ocr-cache.sqlite

Pages: bench/bench_ocr.py's (the first page's worth of lines of three Chinese and three English sample
documents at 300 DPI, 12 pt body, the first line at 18 pt), read by the real pipeline
(indexer.parse.ocr_pages.read_pages, default settings). The drawn lines that are headings are listed here by
hand (HEADINGS: the title, "一、…", "1. Report it straight away", "Ways to pay", "EXAM RULES"); the two body-size
lines under an 18 pt title ("住院患者探视与陪护管理规定", "Billing, Payment and Insurance") count as headings too.
A heading OCR marks is matched to the drawn line it reads as (similarity >= 0.7, NFKC, white space removed):
  found   drawn headings marked
  false   lines marked that are not a drawn heading (a body line, a list item)
--cache keeps what tesseract read (the KB's OCR cache, indexer.parse.ocr_cache), so that a second run with
other heading rules takes a few seconds. Writes bench/out/ocr_headings.json.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import environment, write_json  # noqa: E402
from bench.bench_ocr import BODY_PX, DOCUMENTS, DPI, VARIANTS, draw, font_path, normal, page_lines, variant  # noqa: E402
from indexer.parse.ocr_options import OcrOptions  # noqa: E402
from indexer.parse.ocr_pages import read_pages  # noqa: E402

# the drawn lines (bench_ocr.page_lines' numbers) that are headings
HEADINGS = {
    ("zh", "bank"): {0, 5, 18, 24, 30},
    ("zh", "hospital"): {0, 1, 6, 14, 18, 27, 35},
    ("zh", "school"): {0, 2, 8, 14, 20, 28, 33},
    ("en", "bank"): {0, 6, 23, 35},
    ("en", "hospital"): {0, 1, 3, 9, 19, 28},
    ("en", "school"): {0, 2, 19, 24, 32},
}
MATCH = 0.7


@dataclass
class Result:
    language: str
    domain: str
    variant: str
    headings: int  # drawn
    found: int
    false: list[str]  # marked lines that are not headings
    missed: list[str]  # drawn headings not marked


def matched(text: str, drawn: list[str]) -> int | None:
    """The number of the drawn line `text` reads as, or None."""
    from rapidfuzz.distance import Levenshtein

    said = normal(text)
    best = max(range(len(drawn)), key=lambda i: Levenshtein.normalized_similarity(said, normal(drawn[i])))
    return best if Levenshtein.normalized_similarity(said, normal(drawn[best])) >= MATCH else None


def measure(key: tuple[str, str], name: str, drawn: list[str], marked: list[str]) -> Result:
    truth = HEADINGS[key]
    hits = [matched(text, drawn) for text in marked]
    found = {i for i in hits if i in truth}
    false = [text for text, i in zip(marked, hits) if i not in truth]
    missed = [drawn[i] for i in sorted(truth - found)]
    return Result(key[0], key[1], name, len(truth), len(found), false, missed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--cache", default="", help="an OCR cache file to keep tesseract's readings in")
    args = parser.parse_args()
    from PIL import ImageFont

    font_file = font_path()
    body = ImageFont.truetype(str(font_file), BODY_PX)
    options = OcrOptions(cache_path=args.cache, cache_mb=64 if args.cache else 0)
    results: list[Result] = []
    for name in args.variants.split(","):
        for key, path in DOCUMENTS.items():
            drawn = page_lines(REPO / path, body)
            image = variant(draw(drawn, font_file), name)
            lines = read_pages(f"{key[1]}-{key[0]}-{name}.png", [1], lambda _: (image, DPI), options, None)[1]
            got = measure(key, name, drawn, [line.text for line in lines if line.heading])
            results.append(got)
            print(f"{name:8} {key[0]} {key[1]:9} headings {got.headings}  found {got.found}  false {len(got.false)}"
                  f"  {' / '.join(got.false)}  missed: {' / '.join(got.missed)}", flush=True)
    print("\n| language | variant | headings | found | false |\n|---|---|---|---|---|")
    for language in ("zh", "en"):
        for name in [*args.variants.split(","), "all"]:
            mine = [r for r in results if r.language == language and name in ("all", r.variant)]
            print(f"| {language} | {name} | {sum(r.headings for r in mine)} | {sum(r.found for r in mine)} | "
                  f"{sum(len(r.false) for r in mine)} |")
    write_json("ocr_headings", {"environment": environment("pillow", "rapidfuzz"),
                                "results": [asdict(r) for r in results]})


if __name__ == "__main__":
    main()
