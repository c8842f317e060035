"""What an upload holds: its file names, and for a .zip bundle the entries read out of it.

A name is stored, listed and later sent back (the XML download), so one that a table or an HTTP
header cannot carry is refused here. A zip is read entry by entry with every way an archive can
lie (encryption flag, unsupported compression, false sizes, bad CRC, a broken stream) turned into
a DeploymentError naming the entry, before anything is parsed or stored.
"""

from __future__ import annotations

import io
import lzma
import unicodedata
import zipfile
import zlib

from engine.bpmn.xml import MAX_XML_BYTES
from engine.errors import DeploymentError

MAX_BUNDLE_FILES = 200
MAX_BUNDLE_BYTES = 20 * 1024 * 1024
MAX_NAME_CHARACTERS = 255
DEPLOYABLE_SUFFIXES = (".bpmn", ".dmn")
TEMPLATE_SUFFIXES = (".txt",)  # notification templates that come with the processes (engine/notifications/deployed_templates.py)
# What Python's zipfile can inflate; deflate64 (9), PPMd, AES and the like it cannot.
READABLE_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
                    zipfile.ZIP_LZMA: "lzma"}
_ENCRYPTED_FLAG = 0x1
# What reading a lying or damaged entry raises: a CRC or header mismatch (BadZipFile), a stream that
# ends early (EOFError), a corrupt deflate/lzma/bzip2 stream (zlib.error, LZMAError, OSError).
_DAMAGED = (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError)


def shown_name(filename: str) -> str:
    """A name safe to print and to quote in a message: control characters escaped, at most 80 characters."""
    shown = "".join(c.encode("unicode_escape").decode("ascii") if _is_control(c) else c for c in filename[:80])
    return shown.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates, visibly


def check_filename(filename: str) -> None:
    """A name the deployments table and a download header can carry. Raises: DeploymentError."""
    if len(filename) > MAX_NAME_CHARACTERS or any(_is_control(c) or "\ud800" <= c <= "\udfff" for c in filename):
        shown = shown_name(filename)
        raise DeploymentError(f"{shown}: a file name has at most {MAX_NAME_CHARACTERS} characters and no control "
                              "characters (NUL, CR, LF, tab); rename the file and upload it again", file=shown)


def files_of(filename: str, content: bytes) -> list[tuple[str, bytes]]:
    """The (name, bytes) files an upload holds: itself, or the .bpmn/.dmn (and template .txt) entries of a zip.

    Raises: DeploymentError.
    """
    check_filename(filename)
    lower = filename.lower()
    if lower.endswith((*DEPLOYABLE_SUFFIXES, ".bpmn20.xml", ".xml")):
        return [(filename, content)]
    if lower.endswith(".zip"):
        return _bundle_files(filename, content)
    raise DeploymentError(f"{filename}: expected a .bpmn, .dmn or .zip file", file=filename)


def _bundle_files(filename: str, content: bytes) -> list[tuple[str, bytes]]:
    try:
        bundle = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, EOFError, ValueError, OSError):
        raise DeploymentError(f"{filename}: not a zip archive", file=filename) from None
    members = [m for m in bundle.infolist()
               if not m.is_dir() and m.filename.lower().endswith((*DEPLOYABLE_SUFFIXES, *TEMPLATE_SUFFIXES))]
    if not any(m.filename.lower().endswith(DEPLOYABLE_SUFFIXES) for m in members):
        raise DeploymentError(f"{filename}: the bundle holds no .bpmn or .dmn file", file=filename)
    if len(members) > MAX_BUNDLE_FILES or sum(m.file_size for m in members) > MAX_BUNDLE_BYTES:
        raise DeploymentError(f"{filename}: the bundle is too large", file=filename)
    return [(member.filename, _read_entry(bundle, member)) for member in members]


def _read_entry(bundle: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    check_filename(member.filename)
    name = member.filename

    def refuse(problem: str) -> DeploymentError:
        return DeploymentError(f"{name}: {problem}", file=name, errors=[{"file": name, "element": None,
                                                                          "line": None, "problem": problem}])

    if member.flag_bits & _ENCRYPTED_FLAG:
        raise refuse("the zip entry is encrypted; make the zip again without a password")
    if member.compress_type not in READABLE_METHODS:
        raise refuse(f"the zip entry uses compression method {member.compress_type}, which Tixi cannot read "
                     f"(deflate64 is 9); make the zip again with ordinary deflate")
    if member.file_size > MAX_XML_BYTES:
        raise refuse(f"file is larger than {MAX_XML_BYTES} bytes")
    try:
        # Never more than the limit, whatever the header claims; reading to the end checks the CRC.
        with bundle.open(member) as entry:
            data = entry.read(MAX_XML_BYTES + 1)
    except _DAMAGED as error:
        raise refuse(f"the zip entry is damaged ({error}); make the zip again") from None
    if len(data) != member.file_size:  # zipfile stops at the stream's end without a word
        raise refuse(f"the zip entry's header says {member.file_size} bytes but it holds {len(data)}; "
                     "make the zip again")
    return data


def _is_control(character: str) -> bool:
    return unicodedata.category(character) == "Cc"
