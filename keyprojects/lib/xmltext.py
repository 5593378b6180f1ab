"""Text made safe for XML documents we write ourselves (the streaming xlsx writer, Word tables)."""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

# Characters XML 1.0 cannot hold: control characters other than tab, LF and CR; lone surrogates;
# U+FFFE and U+FFFF. A stray one in a project or unit name must not break a document.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: object) -> str:
    """`value` as element text: illegal characters dropped, & < > escaped."""
    return escape(XML_ILLEGAL.sub("", str(value)))
