"""CMS pages indexed as a reader sees them: menus, cookie banners, breadcrumbs, share buttons and footers
built from plain <div>s are left out, the page's content never."""
from __future__ import annotations

from pathlib import Path

from indexer.parse.dispatch import parse_file


def _texts(tmp_path: Path, body: str, name: str = "page.html") -> str:
    path = tmp_path / name
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>t</title></head><body>{body}</body></html>",
                    encoding="utf-8")
    return "\n".join(e.text for e in parse_file(path))


def test_english_cms_chrome_is_left_out(tmp_path: Path) -> None:
    body = """
<a class="visually-hidden" href="#content">Skip to main content</a>
<div id="cookieBanner">We use cookies to improve your experience. <a href="/cookies">Accept</a></div>
<div id="menu"><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li></ul></div>
<div class="site-navbar"><a href="/patients">Patients</a> | <a href="/visitors">Visitors</a></div>
<div class="breadcrumbs"><a href="/">Home</a> &gt; Patients &gt; Visiting</div>
<div id="content"><h1>Visiting hours</h1>
<p>Visitors are welcome from 10:00 to 20:00 every day, and two visitors at a time may stay at the bedside.</p>
<p>Quiet time is 13:00 to 15:00, when the wards are closed to visitors so that patients can rest.</p></div>
<div class="sidebar"><a href="/news/1">Hospital opens new wing</a><a href="/news/2">Flu season advice</a></div>
<div class="share-buttons">Share: <a href="#">Facebook</a> <a href="#">Email</a></div>
<div role="contentinfo"><a href="/privacy">Privacy</a> | <a href="/terms">Terms</a></div>
<p>© 2026 Riverside Hospital. All rights reserved.</p>
"""
    text = _texts(tmp_path, body)
    assert "Visitors are welcome from 10:00 to 20:00" in text
    assert "Quiet time is 13:00 to 15:00" in text
    for chrome in ("Skip to", "cookies", "About us", "Patients |", "Home", "new wing", "Facebook", "Privacy",
                   "Riverside Hospital. All rights reserved"):
        assert chrome not in text, chrome


def test_chinese_cms_chrome_and_licence_lines_are_left_out(tmp_path: Path) -> None:
    body = """
<div class="cookie">本网站使用Cookie以改善体验。<a>同意</a></div>
<div class="nav"><a href="/">首页</a> | <a href="/about">医院概况</a> | <a href="/news">新闻中心</a></div>
<div class="position">当前位置：<a href="/">首页</a></div>
<h1>探视时间</h1>
<p>每天上午10点至晚上8点可以探视，每次探视人数不超过2人。</p>
<p>午休时间13点至15点请勿探视，重症监护病房探视须提前预约。</p>
<div class="footer_links"><a href="/map">网站地图</a></div>
<p>版权所有 2026 瑞福医院</p>
<p>京ICP备12345678号 京公网安备11010502030000号</p>
"""
    text = _texts(tmp_path, body)
    assert "每天上午10点至晚上8点可以探视" in text
    assert "重症监护病房探视须提前预约" in text
    assert "当前位置" in text  # not a name on the list: kept
    for chrome in ("Cookie", "医院概况", "网站地图", "版权所有", "ICP"):
        assert chrome not in text, chrome


def test_content_under_a_chrome_name_is_kept(tmp_path: Path) -> None:
    # the only text of the page, in a footer
    assert "010-12345678" in _texts(tmp_path, '<div class="footer"><p>Switchboard: 010-12345678</p></div>', "a.html")
    # more than half of the page's text in a "nav" container: a template's wrapper, not a menu
    wrapped = ('<div class="nav-wrapper"><h2>收费标准</h2><p>普通门诊挂号费每人次5元，专家门诊挂号费每人次20元，'
               '急诊挂号费每人次8元。</p></div><p>更新于2026年。</p>')
    assert "专家门诊挂号费每人次20元" in _texts(tmp_path, wrapped, "b.html")
    # a container holding the <h1> stays
    assert "Fees for 2026" in _texts(tmp_path, '<div class="sidebar-layout"><h1>Fees</h1><p>Fees for 2026.</p>'
                                                '<a href="/a">A long link text here</a></div>', "c.html")


def test_whole_words_and_content_menus(tmp_path: Path) -> None:
    body = """
<h1>Cafeteria</h1><p>The cafeteria on the ground floor is open to patients, visitors and staff.</p>
<div class="menu"><h2>Today's menu</h2><ul><li>Rice with vegetables</li><li>Chicken soup</li></ul></div>
<div class="shared-services"><p>Laundry is collected on Mondays.</p></div>
<div class="consent-form"><p>Sign the consent form before surgery.</p></div>
<div class="share-price"><p>Our share price closed at HK$12.40.</p></div>
<div class="navy-box"><p>Follow the blue line to the cafeteria.</p></div>
<p>Copyright of the recipes belongs to the kitchen staff.</p>
"""
    text = _texts(tmp_path, body)
    for content in ("Chicken soup", "Laundry is collected", "Sign the consent form", "Follow the blue line", "HK$12.40",
                    "Copyright of the recipes"):
        assert content in text, content


def test_an_xhtml_export_in_gbk_is_cleaned_too(tmp_path: Path) -> None:
    page = ('<?xml version="1.0" encoding="gbk"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml">'
            '<head><meta http-equiv="Content-Type" content="text/html; charset=gbk" /></head><body>'
            '<div id="topNav"><a href="/">首页</a> | <a href="/news">新闻中心</a></div>'
            '<h1>缴费方式</h1><p>门诊费用可在各楼层收费窗口、自助机或通过微信支付缴纳。</p>'
            '<div class="copyright">版权所有：瑞福医院 京ICP备12345678号</div></body></html>')
    path = tmp_path / "pay.html"
    path.write_bytes(page.encode("gbk"))
    text = "\n".join(e.text for e in parse_file(path))
    assert "门诊费用可在各楼层收费窗口、自助机或通过微信支付缴纳。" in text
    assert "新闻中心" not in text
    assert "ICP" not in text
