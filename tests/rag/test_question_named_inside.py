"""A question named inside a sentence ends no sentence: the Debian FAQ's "Maintainers ... are listed in the Debian
control file (see Section 7.4, “What is a Debian control file?”) that comes with each package." was cut after the
'?' (indexer.chunk.split_sentences cuts there), and "Authors" was answered with "... the package's name [1]. that
comes with each package [1].": the fragment quoted as a sentence. rag.text.line_pieces joins such a piece back: one
opening in lower case, or, in Chinese, one after a question in quotes or brackets opened inside the sentence."""
from __future__ import annotations

import pytest

from rag.text import line_pieces, prose_sentences
from tests.rag.quoting_kb import written_pipeline

EN = ("Maintainers who package this software for the Debian system are listed in the Debian control file (see "
      "Section 7.4, “What is a Debian control file?”) that comes with each package.")
ZH = "维护者列在随每个软件包附带的控制文件（见第7.4节“什么是控制文件？”）中，打包人员名单也在那里。"


@pytest.mark.parametrize("text,sentences", [
    (EN + " The changelog names them too.", [EN, "The changelog names them too."]),
    ("See “Is it free?” for the licence. Is it free? Yes!", ["See “Is it free?” for the licence.", "Is it free?",
                                                            "Yes!"]),
    (ZH + "变更记录也写有他们。", [ZH, "变更记录也写有他们。"]),
    ("请阅读“如何挂号？”一节。（是否收费？）不收费。", ["请阅读“如何挂号？”一节。", "（是否收费？）", "不收费。"]),
    ("请下载手机银行。iPhone 用户在 App Store 搜索。", ["请下载手机银行。", "iPhone 用户在 App Store 搜索。"]),
])
def test_a_question_named_inside_a_sentence_ends_none(text, sentences):
    assert prose_sentences(text) == sentences
    assert line_pieces(text) == sentences


@pytest.fixture(scope="module")
def faq_kb(tmp_path_factory, ens):
    return written_pipeline(tmp_path_factory.mktemp("named_inside"), "named_inside", {
        "authors.txt": "Who wrote the packages\n\nFor each package the authors of the program are credited in the "
                       "file /usr/share/doc/PACKAGE/copyright, where PACKAGE is the package's name.\n" + EN + "\n",
        "维护者.txt": "软件包的维护者\n\n" + ZH + "\n每个软件包的作者写在 /usr/share/doc/软件包名/copyright 文件中。\n",
    }, ens)


@pytest.mark.parametrize("question,whole,fragment", [
    ("Where are the maintainers of a package listed?", EN, "that comes with each package"),
    ("软件包的维护者列在哪里？", ZH, "中，打包人员名单也在那里"),
])
def test_the_sentence_is_quoted_whole(faq_kb, question, whole, fragment):
    answer = faq_kb.ask(question).answer
    assert whole.rstrip(".。") in answer, answer
    assert not answer.startswith(fragment) and f"] {fragment}" not in answer and f"]{fragment}" not in answer, answer
