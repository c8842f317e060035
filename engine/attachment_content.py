"""What an uploaded file is, read from its bytes (never its name), and a small picture of an image.

A client's file name and Content-Type are claims; the magic bytes are the file. A name whose
extension claims one type for bytes of another (a photo renamed invoice.pdf) is refused as well,
since whoever opens the download would be misled by it.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

THUMBNAIL_PIXELS = 320  # the longer side of a thumbnail
# Decoding a picture larger than this (a "decompression bomb" of a few KB) is not attempted.
MAX_IMAGE_PIXELS = 40_000_000

_EXTENSIONS = {
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"), "image/png": (".png",), "image/webp": (".webp",),
    "image/gif": (".gif",), "application/pdf": (".pdf",),
}
# Extensions of types Tixi knows, so that a known-but-other extension counts as a mismatch.
_KNOWN_EXTENSIONS = {ext: kind for kind, exts in _EXTENSIONS.items() for ext in exts}


def sniffed_type(content: bytes) -> str | None:
    """The media type the bytes begin with, among those Tixi recognises; None for anything else."""
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def name_contradicts(filename: str, kind: str) -> bool:
    """Whether the name's extension is one of another type Tixi knows (an unknown extension is let be)."""
    dot = filename.rfind(".")
    claimed = _KNOWN_EXTENSIONS.get(filename[dot:].lower()) if dot >= 0 else None
    return claimed is not None and claimed != kind


def thumbnail_of(content: bytes, kind: str) -> bytes | None:
    """A JPEG or PNG at most THUMBNAIL_PIXELS on its longer side; None when the picture cannot be read."""
    if not kind.startswith("image/"):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    return None
                image.seek(0)
                image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
                has_alpha = image.mode in ("RGBA", "LA", "P")
                picture = image.convert("RGBA" if has_alpha else "RGB")
                out = io.BytesIO()
                picture.save(out, format="PNG" if has_alpha else "JPEG", quality=80)
                return out.getvalue()
    except Exception:  # noqa: BLE001
        # Decoders of third-party bytes fail in many ways (OSError, SyntaxError, struct.error, IndexError
        # for crafted headers, the bomb warning): any of them means no thumbnail, never a failed upload,
        # for a damaged picture is still a file of its type.
        return None


def thumbnail_type(thumbnail: bytes) -> str:
    return "image/png" if thumbnail.startswith(b"\x89PNG") else "image/jpeg"
