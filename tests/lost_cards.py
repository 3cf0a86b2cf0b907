"""The lost-card documents the re-reading, kept-upload and archive tests index or upload: an English Markdown file
and a Chinese text file naming the same number (400-800-1234), written once here so that every test reads the same
bytes (a kept copy is named by its SHA-256)."""
from __future__ import annotations

from pathlib import Path

EN_LINE = "Call 400-800-1234 at any hour to report a lost or stolen card.\n"
EN = "# Lost cards\n\n" + EN_LINE  # cards.md
ZH = "挂失银行卡请拨打客服电话 400-800-1234，全天二十四小时服务。\n"  # 挂失.txt


def write_files(folder: Path) -> Path:
    """cards.md (EN) and 挂失.txt (ZH) written in `folder` (made when missing); `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cards.md").write_text(EN, encoding="utf-8")
    (folder / "挂失.txt").write_text(ZH, encoding="utf-8")
    return folder
