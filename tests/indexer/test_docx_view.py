"""A Word document is indexed as Word shows it (indexer.parse.docx_view): tracked insertions kept and
deletions dropped, text boxes and content controls read, the table of contents, comments and running
headers/footers left out, footnotes next to the text citing them, and headings found by a Chinese style
name ("标题 1", as Chinese Word and WPS write it) or by outline level. Files are built with python-docx,
the parts it cannot write edited in as Word writes them; English and Chinese."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from indexer.parse.dispatch import parse_file
from indexer.types import Element

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
SHAPES = ('xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
          'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
          'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
          'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:v="urn:schemas-microsoft-com:vml"')

EN: dict[str, Any] = {"header": "Riverside Hospital internal", "toc": "Visiting hours\t2", "h1": "Visiting hours",
      "kept": "Visitors are welcome from 10:00 to 20:00 ", "inserted": "on weekdays only", "end": ".",
      "deleted": " and all day at weekends", "cited": "Children under 12 must be accompanied.",
      "note": "Except in the paediatric ward", "commented": "Two visitors at a time.",
      "comment": "Check this with the ward manager", "box": "Emergency line: 555-0100",
      "control": "Form completed by the ward clerk", "h_style": "Fees", "h_outline": "Outpatient fees",
      "under": "Registration costs $10.", "inline": ("Ward: ", "Maternity", ", updated ", "2026-12-01")}
ZH: dict[str, Any] = {"header": "瑞福医院内部资料", "toc": "探视时间\t2", "h1": "探视时间", "kept": "探视时间为每天10:00至20:00，",
      "inserted": "仅限工作日", "end": "。", "deleted": "周末全天开放", "cited": "十二岁以下儿童须由成人陪同。",
      "note": "儿科病房除外", "commented": "每位病人同时最多两名探视者。", "comment": "与护士长核实",
      "box": "急诊电话：120", "control": "本表由病区文员填写", "h_style": "收费标准", "h_outline": "门诊收费",
      "under": "挂号费10元。", "inline": ("病区：", "产科", "，更新于", "2026-12-01")}


def _run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def _build(path: Path, t: dict[str, Any]) -> Path:
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import parse_xml
    from docx.oxml.ns import qn

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = t["header"]
    body = document.element.body

    def add(xml: str) -> None:
        body.insert(len(body) - 1, parse_xml(xml))

    add(f'<w:p {W}><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> TOC \\o '
        f'"1-3" \\h </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>{_run(t["toc"])}'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')
    document.add_heading(t["h1"], 1)
    add(f'<w:p {W}>{_run(t["kept"])}<w:ins w:id="1" w:author="a">{_run(t["inserted"])}</w:ins>'
        f'<w:del w:id="2" w:author="a"><w:r><w:delText xml:space="preserve">{t["deleted"]}</w:delText></w:r></w:del>'
        f'{_run(t["end"])}</w:p>')
    add(f'<w:p {W}>{_run(t["cited"])}<w:r><w:footnoteReference w:id="1"/></w:r></w:p>')
    commented = document.add_paragraph(t["commented"])
    document.add_comment(commented.runs, text=t["comment"], author="Ann")
    add(f'<w:p {W} {SHAPES}><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wp:anchor>'
        f'<a:graphic><a:graphicData><wps:wsp><wps:txbx><w:txbxContent><w:p>{_run(t["box"])}</w:p></w:txbxContent>'
        '</wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice><mc:Fallback><w:pict>'
        f'<v:shape><v:textbox><w:txbxContent><w:p>{_run(t["box"])}</w:p></w:txbxContent></v:textbox></v:shape>'
        '</w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>')
    add(f'<w:sdt {W}><w:sdtPr><w:alias w:val="clerk"/></w:sdtPr><w:sdtContent><w:p>{_run(t["control"])}</w:p>'
        '</w:sdtContent></w:sdt>')
    label, ward, updated, date = t["inline"]  # an inline content control, a simple DATE field
    add(f'<w:p {W}>{_run(label)}<w:sdt><w:sdtPr/><w:sdtContent>{_run(ward)}</w:sdtContent></w:sdt>{_run(updated)}'
        f'<w:fldSimple w:instr=" DATE \\@ yyyy-MM-dd ">{_run(date)}</w:fldSimple></w:p>')
    style = document.styles.add_style("标题 1", WD_STYLE_TYPE.PARAGRAPH)  # WPS: a localised name, id "2"
    style.element.set(qn("w:styleId"), "2")
    document.add_paragraph(t["h_style"], style=style)
    add(f'<w:p {W}><w:pPr><w:outlineLvl w:val="1"/></w:pPr>{_run(t["h_outline"])}</w:p>')
    document.add_paragraph(t["under"])
    document.save(path)
    footnotes = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:footnotes {W}>'
                 '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
                 f'<w:footnote w:id="1"><w:p><w:r><w:footnoteRef/></w:r>{_run(" " + t["note"])}</w:p></w:footnote>'
                 '</w:footnotes>')
    staged = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/word/footnotes.xml" ContentType="application/'
                                    b'vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>')
            elif item.filename == "word/_rels/document.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdNotes" Type="http://schemas.openxml'
                                    b'formats.org/officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/>'
                                    b"</Relationships>")
            target.writestr(item, data)
        target.writestr("word/footnotes.xml", footnotes)
    shutil.move(staged, path)
    return path


@pytest.fixture(params=[EN, ZH], ids=["en", "zh"])
def parsed(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, Any], list[Element]]:
    return request.param, parse_file(_build(tmp_path / "visiting.docx", request.param))


def _texts(elements: list[Element]) -> list[str]:
    return [e.text for e in elements]


def test_tracked_changes_read_as_accepted(parsed: tuple[dict[str, Any], list[Element]]) -> None:
    t, elements = parsed
    assert t["kept"].strip() + " " * t["kept"].endswith(" ") + t["inserted"] + t["end"] in _texts(elements)
    assert not any(t["deleted"].strip() in text for text in _texts(elements))


def test_text_box_and_content_control_are_read_once(parsed: tuple[dict[str, Any], list[Element]]) -> None:
    t, elements = parsed
    texts = _texts(elements)
    assert texts.count(t["box"]) == 1 and texts.count(t["control"]) == 1
    assert texts.index(t["commented"]) < texts.index(t["box"]) < texts.index(t["control"])  # where they stand
    assert "".join(t["inline"]) in texts


def test_footnote_follows_the_text_citing_it(parsed: tuple[dict[str, Any], list[Element]]) -> None:
    t, elements = parsed
    texts = _texts(elements)
    assert texts[texts.index(t["cited"]) + 1] == f"[1] {t['note']}"


def test_furniture_and_comments_are_left_out(parsed: tuple[dict[str, Any], list[Element]]) -> None:
    t, elements = parsed
    joined = "\n".join(_texts(elements))
    for absent in (t["header"], t["toc"], t["comment"]):
        assert absent not in joined
    assert _texts(elements)[0] == t["h1"]  # the table of contents was first


def test_headings_by_chinese_style_name_and_outline_level(parsed: tuple[dict[str, Any], list[Element]]) -> None:
    t, elements = parsed
    by_text = {e.text: e for e in elements}
    assert by_text[t["h_style"]].kind == "title" and by_text[t["h_outline"]].kind == "title"
    assert by_text[t["under"]].section == f"{t['h_style']} > {t['h_outline']}"
