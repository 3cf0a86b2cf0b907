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


def test_english_footer_keeps_the_hospitals_contact_details(tmp_path: Path) -> None:
    body = """
<div id="content"><h1>Visiting hours</h1>
<p>Visitors are welcome from 10:00 to 20:00 every day, and two visitors at a time may stay at the bedside.</p>
<p>Quiet time is 13:00 to 15:00, when the wards are closed to visitors so that patients can rest.</p></div>
<div class="site-footer" role="contentinfo">
 <div class="footer-col"><h4>Quick links</h4><ul><li><a href="/careers">Careers</a></li>
  <li><a href="/contact">Contact us</a></li><li><a href="/privacy">Privacy policy</a></li></ul></div>
 <div class="footer-col"><h4>Find us</h4>
  <address>Riverside Hospital<br>1 River Road, Springfield SP1 2AB</address>
  <dl><dt>Switchboard</dt><dd>(020) 5555 0100</dd>
   <dt>Email</dt><dd><a href="mailto:info@riverside.example.org">info@riverside.example.org</a></dd></dl>
  <p>Outpatient reception open Monday to Friday, 8am to 6pm</p>
 </div>
 <p class="copyright">© 2026 Riverside Hospital NHS Trust. All rights reserved.</p>
</div>
"""
    lines = _texts(tmp_path, body).split("\n")
    for kept in ("1 River Road, Springfield SP1 2AB", "Switchboard (020) 5555 0100", "Email info@riverside.example.org",
                 "Outpatient reception open Monday to Friday, 8am to 6pm"):
        assert kept in lines, kept
    assert "Visitors are welcome from 10:00 to 20:00" in lines[1]
    text = "\n".join(lines)
    for chrome in ("Quick links", "Careers", "Contact us", "Privacy policy", "All rights reserved"):
        assert chrome not in text, chrome


def test_chinese_footer_keeps_phone_address_mail_and_hours(tmp_path: Path) -> None:
    body = """
<div class="nav"><a href="/">首页</a> | <a href="/about">医院概况</a> | <a href="/news">新闻中心</a></div>
<div class="main-content"><h1>探视时间</h1>
<p>每天上午10点至晚上8点可以探视，每次探视人数不超过2人。</p>
<p>午休时间13点至15点请勿探视，重症监护病房探视须提前预约。</p></div>
<div class="footer">
 <div class="footer-links"><a href="/about">关于我们</a> | <a href="/contact">联系我们</a> | <a href="/map">网站地图</a></div>
 <div class="footer-info">
  <p>地址：北京市朝阳区建国路88号&nbsp;&nbsp;邮编：100022</p>
  <p>总机电话：010-65001234&nbsp;&nbsp;急诊电话：010-65005678&nbsp;&nbsp;邮箱：office@ruifu-hospital.cn</p>
  <p>门诊时间：周一至周五 8:00-17:00，周六 8:00-12:00</p>
  <p>版权所有 © 2026 瑞福医院&nbsp;&nbsp;京ICP备12345678号&nbsp;&nbsp;京公网安备11010502030000号</p>
  <p>技术支持：某某网络科技有限公司</p>
 </div>
</div>
"""
    lines = _texts(tmp_path, body).split("\n")
    for kept in ("地址：北京市朝阳区建国路88号 邮编：100022",
                 "总机电话：010-65001234 急诊电话：010-65005678 邮箱：office@ruifu-hospital.cn",
                 "门诊时间：周一至周五 8:00-17:00，周六 8:00-12:00"):
        assert kept in lines, kept
    text = "\n".join(lines)
    for chrome in ("医院概况", "关于我们", "联系我们", "网站地图", "版权所有", "ICP", "公网安备", "技术支持"):
        assert chrome not in text, chrome


def test_a_footer_line_shared_with_the_licence_keeps_its_contact_part(tmp_path: Path) -> None:
    # one <div> of <br> lines, pieces set apart with &nbsp;, as school CMS templates write it
    body = """<h1>招生简章</h1><p>本校2026年秋季招收一年级新生，报名时间为6月1日至6月15日，报名须携带户口簿和房产证明。</p>
<div id="footer">版权所有：阳光实验小学&nbsp;&nbsp;地址：杭州市西湖区文三路100号<br>
招生咨询电话：0571-88001234&nbsp;&nbsp;办公时间：工作日 8:30-16:30<br>京ICP备00000001号-1</div>"""
    lines = _texts(tmp_path, body).split("\n")
    assert "地址：杭州市西湖区文三路100号" in lines
    assert "招生咨询电话：0571-88001234 办公时间：工作日 8:30-16:30" in lines
    assert not any("ICP" in line or "版权所有" in line for line in lines)
    # a copyright line at the page's end that also gives the address and phone number stays whole
    end = ("<h1>Admissions</h1><p>Applications for the autumn term open on 1 June and close on 15 June.</p>"
           "<p>© 2026 Sunshine Primary School, 100 Wensan Road, Hangzhou. Tel +86 571 8800 1234</p>")
    assert "© 2026 Sunshine Primary School, 100 Wensan Road, Hangzhou. Tel +86 571 8800 1234" in _texts(
        tmp_path, end, "end.html")


def test_what_is_not_a_contact_detail() -> None:
    from indexer.parse.footer_contacts import has_contact

    for detail in ("电话：120", "Tel: 020 5555 0100", "400-810-8888", "13912345678", "info@riverside.example.org",
                   "地址：北京市朝阳区建国路88号", "北京市朝阳区建国路88号", "Address: 1 River Road",
                   "开放时间：周一至周五 8:00-17:00", "Open daily 9am to 5pm"):
        assert has_contact(detail), detail
    for chrome in ("京ICP备12345678号-1", "京公网安备11010502030000号", "Copyright 2026-2027 Riverside", "联系我们",
                   "Contact us", "© 2026 瑞福医院", "网站地图 | 人才招聘", "访问量：1234567"):
        assert not has_contact(chrome), chrome
