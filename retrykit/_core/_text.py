"""Text hygiene for what servers send: decoding, one clean line, short excerpts of HTML.

Every function here takes untrusted text and never raises on it. What comes out is one
line without control characters, bidirectional overrides or lone surrogates, cut at a
word boundary to a length the caller names, so it is safe to log and to show.
"""

from __future__ import annotations

import html
import re

MAX_MESSAGE = 500
"""The longest message line kept, in characters."""
MAX_EXCERPT = 200
"""The longest excerpt of a body that is not JSON, in characters."""

_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ud800-\udfff]"
)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})")
_HTML_TITLE = re.compile(r"<title\b[^>]{0,200}>", re.IGNORECASE)
_HTML_TITLE_END = re.compile(r"</title", re.IGNORECASE)
_TAG_NAME = re.compile(r"<\s*([A-Za-z][A-Za-z0-9]{0,20})")
_RAW_TEXT_END = {
    "script": re.compile(r"</script", re.IGNORECASE),
    "style": re.compile(r"</style", re.IGNORECASE),
}


def decode(body: bytes | str | None, content_type: str, limit: int) -> str:
    """Return at most ``limit`` bytes of ``body`` (characters of a ``str``) as text.

    Bytes are cut before decoding and decoded with the charset ``content_type`` names;
    an unknown charset, or none, means UTF-8. Invalid bytes are replaced, and a leading
    byte order mark is dropped.
    """
    if body is None:
        return ""
    if isinstance(body, str):
        text = body[:limit]
    else:
        raw = bytes(body[:limit])
        charset = _CHARSET.search(content_type)
        try:
            text = raw.decode(charset.group(1) if charset else "utf-8", errors="replace")
        except (LookupError, ValueError):
            text = raw.decode("utf-8", errors="replace")
    return text.removeprefix("\ufeff")


def clean(text: str, limit: int) -> str:
    """Return ``text`` on one line, without control characters, cut at ``limit``."""
    words = _CONTROL.sub(" ", text).split()
    line = " ".join(words)
    if len(line) <= limit:
        return line
    cut = line[: limit - 3]
    words_only = cut.rsplit(" ", 1)[0]
    # Cut at a word boundary unless that loses half the excerpt (one very long word).
    if len(words_only) >= limit // 2:
        cut = words_only
    return cut.rstrip() + "..."


def looks_like_html(text: str, content_type: str) -> bool:
    """Return True if a body is markup: an HTML or XML Content-Type, or text opening with ``<``."""
    return "html" in content_type or "xml" in content_type or text.lstrip().startswith("<")


def excerpt(text: str, *, is_html: bool) -> str:
    """Return a short clean excerpt: of markup, its ``<title>``, else its text without tags."""
    if is_html:
        title = _html_title(text)
        text = title or _strip_tags(text)
        text = html.unescape(text)
    return clean(text, MAX_EXCERPT)


def _html_title(text: str) -> str:
    start = _HTML_TITLE.search(text)
    if start is None:
        return ""
    end = _HTML_TITLE_END.search(text, start.end())
    if end is None:
        return ""
    return clean(html.unescape(text[start.end() : end.start()]), MAX_EXCERPT)


def _strip_tags(text: str) -> str:
    # str.find keeps this linear; a regex such as <[^>]*> is quadratic on "<<<<...".
    parts: list[str] = []
    position = 0
    while True:
        opening = text.find("<", position)
        if opening < 0:
            parts.append(text[position:])
            break
        parts.append(text[position:opening])
        closing = text.find(">", opening)
        if closing < 0:
            break
        position = closing + 1
        name = _TAG_NAME.match(text, opening)
        raw_text_end = _RAW_TEXT_END.get(name.group(1).lower()) if name else None
        if raw_text_end is not None:
            end = raw_text_end.search(text, position)
            if end is None:
                break
            position = end.start()
        parts.append(" ")
    return "".join(parts)
