"""Scans and photos uploaded over HTTP (a real server, real tesseract): an image is an accepted type and is read
by OCR; an image named as another image type is refused (415) before anything is stored."""
from __future__ import annotations

import io

import pytest

from cli.testing import Server, wait_job
from tests.ocr_scans import FEE_EN, FEE_ZH, needs_tesseract, notice_lines, save_pdf, scan

pytestmark = [pytest.mark.slow, needs_tesseract]


def test_uploaded_photo_and_scan_are_read_by_ocr(tmp_path):
    srv = Server(tmp_path / "home").start()
    try:
        admin = srv.client()
        assert admin.post("/v1/kbs", json={"name": "bank"}).status_code == 201
        photo = io.BytesIO()
        scan(notice_lines(), size=(1240, 700)).convert("RGB").save(photo, "JPEG", quality=90)
        scanned = save_pdf(tmp_path / "收费公告.pdf", scan(["收费公告", "", FEE_ZH]))
        png = io.BytesIO()
        scan(["x"], size=(200, 100)).save(png, "PNG")
        r = admin.post("/v1/kbs/bank/documents", files=[("files", ("notice.jpeg", png.getvalue()))])
        assert r.status_code == 415 and "the name says .jpeg but the content is a PNG image" in r.text
        r = admin.post("/v1/kbs/bank/documents", files=[("files", ("notice.jpg", photo.getvalue())),
                                                        ("files", (scanned.name, scanned.read_bytes()))])
        assert r.status_code == 202, r.text
        job = wait_job(admin, r.json()["job_id"])
        assert [(f["filename"], f["status"]) for f in job["files"]] == [("notice.jpg", "indexed"),
                                                                         ("收费公告.pdf", "indexed")], job
        docs = {d["source"]: d["tags"] for d in admin.get("/v1/kbs/bank/documents").json()}
        assert docs == {"notice.jpg": {"ocr": "yes"}, "收费公告.pdf": {"ocr": "yes", "ocr_pages": "1"}}
        hits = admin.post("/v1/kbs/bank/search", json={"query": "replacement card fee", "k": 1}).json()
        assert FEE_EN in hits[0]["text"] and hits[0]["tags"]["ocr"] == "yes"
        hits = admin.post("/v1/kbs/bank/search", json={"query": "跨行转账手续费", "k": 2}).json()
        assert any(FEE_ZH in h["text"] for h in hits)
    finally:
        srv.stop()
