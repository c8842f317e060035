"""Headers for sending a stored file back: always as a download, its name encoded per RFC 6266/5987.

A header value must be Latin-1 (Starlette raises on anything else, which was a 500 for a Chinese
file name) and must never carry a raw CR/LF. So the name goes out twice: `filename*` percent-encoded
UTF-8 for browsers, and `filename` as an ASCII stand-in for clients that read only that.
"""

from __future__ import annotations

from urllib.parse import quote

_UNSAFE_IN_QUOTES = set('"\\;%')


def ascii_fallback(name: str) -> str:
    """The name with every character outside printable ASCII (and quote, backslash, ;, %) as `_`."""
    return "".join(c if " " <= c <= "~" and c not in _UNSAFE_IN_QUOTES else "_" for c in name)


def attachment(filename: str) -> str:
    """A Content-Disposition value that makes browsers save the file rather than show it."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1] or "download"
    return f"attachment; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"
