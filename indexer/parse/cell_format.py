"""A spreadsheet cell as the sheet shows it: its number format applied (Excel's "h:mm", "yyyy年m月d日", "0%",
"#,##0.00", "¥" and "元" literals), else a plain form: 08:30 (seconds only when there are some), 2025-09-01,
680 (not 680.0), 0.3 (not 0.30000000000000004)."""
from __future__ import annotations

import datetime as dt
import re

_SPACE = re.compile(r"\s+")


def _number(value: float) -> str:
    """A float as a spreadsheet's General format shows it: 680, 0.3 (not 680.0, 0.30000000000000004)."""
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    text = f"{value:.15g}"
    return text if "e" in text else text.rstrip("0").rstrip(".") if "." in text else text


def _time_text(value: dt.time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def clean_cell(value: object, number_format: str | None = None) -> str:
    """One table cell as a single line of text, as the sheet shows it where `number_format` (Excel's,
    from openpyxl) says how ("h:mm" -> "8:30", "0%" -> "5%", "yyyy年m月d日"); else times "08:30",
    dates "2025-09-01", datetimes "2025-09-01 08:30", numbers without ".0" or float noise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if number_format and isinstance(value, (int, float, dt.datetime, dt.date, dt.time)):
        shown = _formatted(value, number_format)
        if shown is not None:
            return _SPACE.sub(" ", shown).strip()
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return f"{value.date().isoformat()} {_time_text(value.time())}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return _time_text(value)
    if isinstance(value, dt.timedelta):  # a duration cell ("[h]:mm"): hours and minutes
        minutes = round(value.total_seconds() / 60)
        return f"{minutes // 60}:{minutes % 60:02d}"
    return _SPACE.sub(" ", str(value)).strip()


_QUOTED = re.compile(r'"([^"]*)"|\\(.)|\[\$([^\]-]*)[^\]]*\]|\[[^\]]*\]|_.|\*.')
_DATE_TOKEN = re.compile(r"(?i)yyyy|yy|mmmmm|mmmm|mmm|mm|m|dddd|ddd|dd|d|hh|h|ss|s|am/pm|a/p|\.0+")


def _literals(fmt: str) -> list[tuple[bool, str]]:
    """A format's pieces: (True, literal text) for quoted, escaped and currency text, (False, code)."""
    pieces: list[tuple[bool, str]] = []
    pos = 0
    for m in _QUOTED.finditer(fmt):
        if m.start() > pos:
            pieces.append((False, fmt[pos:m.start()]))
        literal = m.group(1) if m.group(1) is not None else m.group(2) or m.group(3) or ""
        if literal:
            pieces.append((True, literal))
        pos = m.end()
    if pos < len(fmt):
        pieces.append((False, fmt[pos:]))
    return pieces


# General, and the formats openpyxl and pandas give every date and time they write (not chosen by a
# person): the defaults of clean_cell read better ("08:30", not "8:30:00").
_DEFAULT_FORMATS = frozenset({"general", "yyyy-mm-dd h:mm:ss", "h:mm:ss", "yyyy-mm-dd hh:mm:ss"})


def _formatted(value: object, number_format: str) -> str | None:
    """`value` as Excel's `number_format` shows it; None where the format is General or not understood."""
    fmt = number_format.split(";")[0]
    if not fmt or fmt.lower() in _DEFAULT_FORMATS or fmt == "@":
        return None
    pieces = _literals(fmt)
    code = "".join(text for literal, text in pieces if not literal)
    try:
        if isinstance(value, (dt.datetime, dt.date, dt.time)):
            if not re.search(r"(?i)[ymdhs]", code):
                return None
            return _date_formatted(value, pieces)
        if isinstance(value, (int, float)) and not re.search(r"(?i)[ymdhs]", code):
            return _number_formatted(float(value), pieces)
    except (ValueError, OverflowError):
        return None
    return None


def _date_formatted(value: dt.date | dt.time, pieces: list[tuple[bool, str]]) -> str | None:
    date = value.date() if isinstance(value, dt.datetime) else value if isinstance(value, dt.date) else None
    time = value.time() if isinstance(value, dt.datetime) else value if isinstance(value, dt.time) else dt.time(0)
    tokens: list[tuple[bool, str]] = []
    for literal, text in pieces:
        if literal:
            tokens.append((True, text))
            continue
        pos = 0
        for m in _DATE_TOKEN.finditer(text):
            if m.start() > pos:
                tokens.append((True, text[pos:m.start()]))
            tokens.append((False, m.group(0)))
            pos = m.end()
        if pos < len(text):
            tokens.append((True, text[pos:]))
    codes = [i for i, (lit, _) in enumerate(tokens) if not lit]
    twelve = any(tokens[i][1].lower() in ("am/pm", "a/p") for i in codes)
    out: list[str] = []
    for i, (literal, text) in enumerate(tokens):
        if literal:
            out.append(text)
            continue
        low = text.lower()
        prev = [tokens[j][1].lower() for j in codes if j < i]
        nxt = [tokens[j][1].lower() for j in codes if j > i]
        if low in ("m", "mm") and ((prev and prev[-1] in ("h", "hh")) or (nxt and nxt[0] in ("s", "ss"))):
            out.append(f"{time.minute:02d}" if low == "mm" else str(time.minute))
            continue
        if low in ("h", "hh"):
            hour = (time.hour % 12 or 12) if twelve else time.hour
            out.append(f"{hour:02d}" if low == "hh" else str(hour))
        elif low in ("s", "ss"):
            out.append(f"{time.second:02d}" if low == "ss" else str(time.second))
        elif low.startswith(".0"):
            out.append("." + f"{time.microsecond:06d}"[:len(low) - 1])
        elif low in ("am/pm", "a/p"):
            pm = time.hour >= 12
            out.append(("PM" if pm else "AM") if low == "am/pm" else ("P" if pm else "A"))
        elif date is None:
            return None  # a date code on a time-only value: not what the sheet means
        elif low == "yyyy":
            out.append(f"{date.year:04d}")
        elif low == "yy":
            out.append(f"{date.year % 100:02d}")
        elif low in ("m", "mm"):
            out.append(f"{date.month:02d}" if low == "mm" else str(date.month))
        elif low in ("mmm", "mmmm", "mmmmm"):
            name = date.strftime("%B")
            out.append(name[:3] if low == "mmm" else name if low == "mmmm" else name[0])
        elif low in ("d", "dd"):
            out.append(f"{date.day:02d}" if low == "dd" else str(date.day))
        elif low in ("ddd", "dddd"):
            name = date.strftime("%A")
            out.append(name[:3] if low == "ddd" else name)
    return "".join(out)


def _number_formatted(value: float, pieces: list[tuple[bool, str]]) -> str | None:
    code = "".join(text for literal, text in pieces if not literal)
    m = re.search(r"[#0?][#0?,]*(\.[0#?]*)?", code)
    if not m or "e" in code.lower() or "/" in code:
        return None  # scientific and fraction formats: General is close enough
    percent = "%" in code
    shown = value * 100 if percent else value
    frac = m.group(1) or ""
    decimals = len(frac) - 1 if frac else 0
    grouped = "," in m.group(0).rstrip(",")
    trailing_commas = len(m.group(0)) - len(m.group(0).rstrip(","))
    shown /= 1000 ** trailing_commas  # "#,##0," shows thousands
    number = f"{abs(shown):,.{decimals}f}" if grouped else f"{abs(shown):.{decimals}f}"
    if "#" in frac or "?" in frac:  # optional decimals: drop trailing zeros
        number = number.rstrip("0").rstrip(".") if "." in number else number
    if shown < 0 and round(abs(shown), decimals) != 0:
        number = "-" + number
    out: list[str] = []
    placed = False
    for literal, text in pieces:
        if literal:
            out.append(text)
            continue
        n = re.search(r"[#0?][#0?,]*(\.[0#?]*)?", text)
        if n and not placed:
            out.append(text[:n.start()].replace("%", "") + number + text[n.end():])
            placed = True
        else:
            out.append(text)
    return "".join(out).strip()
