"""Citation markers in answer text: "[1]", "[1, 3]", "[2-4]", "【1】", "［1、2］"."""
from __future__ import annotations

import re

# up to three digits a number, listed with , ， 、 ; ； or ranged with - – ~
_NUM_LIST = r"\d{1,3}(?:\s*(?:[,，、;；]|[-–~])\s*\d{1,3})*"
# one marker; group 1 is its number list
MARKER = re.compile(rf"[\[【［]\s*({_NUM_LIST})\s*[\]】］]")
# a run of markers with the spaces or tabs before each
MARKER_GROUP = re.compile(rf"(?:[ \t]*{MARKER.pattern})+")
