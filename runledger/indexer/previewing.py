"""What an artifact holds, from its first bytes: text, JSON, CSV rows, an archive's members, or "binary".

A preview is built from a prefix of the object (a ranged GET), so everything here works on bytes
that may stop anywhere: a UTF-8 character or a CSV row cut at the end is dropped, JSON is
pretty-printed only when the whole document was read, and an archive lists the members whose
headers the prefix holds. Argo stores an output file as a gzipped tar of that one file, so such an
archive is looked through: the preview is the file's, with the member list beside it.

The content is untrusted: binary bytes are never echoed (a NUL, or bytes that are not UTF-8, make it
"binary"), decompression stops at a fixed size, and tar headers are read, never extracted.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
import zipfile
import zlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from runledger.indexer.unpacking import (
    GZIP_MAGIC,
    TAR_MAGIC,
    TAR_MAGIC_OFFSET,
    ZIP_MAGICS,
)

Kind = Literal["text", "json", "csv", "tsv", "archive", "binary"]
MAX_ROWS = 50
MAX_MEMBERS = 200
# The most a prefix is gunzipped to: enough for the headers of many small members.
MAX_UNPACKED = 1 << 20


class ArchiveMember(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    size: int = Field(description="Bytes, as the archive declares.")
    type: Literal["file", "directory", "link", "other"]


class Preview(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Kind = Field(description="How the content reads; binary content is never shown.")
    truncated: bool = Field(description="The object (or the archived file) holds more than is shown.")
    text: str | None = Field(default=None, description="text: the first characters; json: the document, indented.")
    rows: list[list[str]] | None = Field(default=None, description=f"csv/tsv: the first rows (at most {MAX_ROWS}).")
    members: list[ArchiveMember] | None = Field(
        default=None, description=f"An archive's members whose headers were read (at most {MAX_MEMBERS})."
    )


def preview(data: bytes, *, name: str, complete: bool, max_shown: int, content_type: str | None = None) -> Preview:
    """The preview of `data`, the first bytes of object `name`; `complete` when it is the whole object.
    At most `max_shown` bytes of an archived file are shown."""
    if data[:2] == GZIP_MAGIC:
        unpacked, whole = _gunzip_prefix(data, complete=complete)
        if unpacked is None:
            return Preview(kind="binary", truncated=not complete)
        if unpacked[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + len(TAR_MAGIC)] == TAR_MAGIC:
            return _tar(unpacked, complete=whole, max_shown=max_shown)
        shown = unpacked[:max_shown]
        return _content(shown, name=name.removesuffix(".gz"), complete=whole and shown == unpacked, content_type=None)
    if data[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + len(TAR_MAGIC)] == TAR_MAGIC:
        return _tar(data, complete=complete, max_shown=max_shown)
    if data[:4] in ZIP_MAGICS:
        return _zip(data, complete=complete)
    return _content(data, name=name, complete=complete, content_type=content_type)


def _content(data: bytes, *, name: str, complete: bool, content_type: str | None) -> Preview:
    text = _text(data, complete=complete)
    if text is None:
        return Preview(kind="binary", truncated=not complete)
    lowered, ctype = name.lower(), (content_type or "").split(";")[0].strip().lower()
    if lowered.endswith((".csv", ".tsv")) or ctype in ("text/csv", "text/tab-separated-values"):
        tsv = lowered.endswith(".tsv") or ctype == "text/tab-separated-values"
        return _rows(text, tsv=tsv, complete=complete)
    if complete and (lowered.endswith(".json") or ctype == "application/json" or text.lstrip()[:1] in ("{", "[")):
        try:
            return Preview(kind="json", truncated=False, text=json.dumps(json.loads(text), indent=2, ensure_ascii=False))
        except (ValueError, RecursionError):
            pass  # not JSON after all: shown as text
    return Preview(kind="text", truncated=not complete, text=text)


def _text(data: bytes, *, complete: bool) -> str | None:
    """`data` as UTF-8, a character cut at the end dropped; None when binary."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A prefix may end inside a character (at most 3 bytes of it): that is not binary.
        if complete or exc.start < len(data) - 3 or exc.reason != "unexpected end of data":
            return None
        return data[: exc.start].decode("utf-8")


def _rows(text: str, *, tsv: bool, complete: bool) -> Preview:
    lines = text.splitlines(keepends=True)
    if not complete and lines:
        lines = lines[:-1]  # the last line may be cut
    try:
        rows = [row for row, _ in zip(csv.reader(lines, dialect="excel-tab" if tsv else "excel"), range(MAX_ROWS + 1))]
    except csv.Error:
        return Preview(kind="text", truncated=not complete, text=text)
    return Preview(kind="tsv" if tsv else "csv", truncated=not complete or len(rows) > MAX_ROWS, rows=rows[:MAX_ROWS])


def _gunzip_prefix(data: bytes, *, complete: bool) -> tuple[bytes | None, bool]:
    """Up to MAX_UNPACKED bytes of a gzip stream, and whether that is all of it; None if corrupt."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, MAX_UNPACKED)
    except zlib.error:
        return None, False
    return out, complete and decompressor.eof


def _tar(data: bytes, *, complete: bool, max_shown: int) -> Preview:
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    whole = complete
    try:
        # "r|": a stream of headers read in order, so a cut archive yields what precedes the cut.
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as archive:
            for member in archive:
                if len(members) == MAX_MEMBERS:
                    whole = False
                    break
                # The member's bytes as far as the prefix holds them: sliced, never extracted.
                content = data[member.offset_data : member.offset_data + member.size] if member.isreg() else None
                members.append((member, content))
    except (tarfile.TarError, EOFError, OSError, ValueError):
        whole = False  # cut short: the prefix ended inside the archive
    listed = [ArchiveMember(name=m.name, size=m.size, type=_member_type(m)) for m, _ in members]
    if len(members) == 1 and members[0][0].isreg() and members[0][1] is not None:
        # Argo's single file: its preview, cut where the bytes read or the shown size end.
        member, content = members[0]
        shown = content[:max_shown]
        inner = _content(shown, name=member.name, complete=whole and len(shown) == member.size, content_type=None)
        return inner.model_copy(update={"members": listed})
    return Preview(kind="archive", truncated=not whole, members=listed)


def _zip(data: bytes, *, complete: bool) -> Preview:
    if not complete:
        # The member list is at a zip's end, past the bytes read.
        return Preview(kind="archive", truncated=True)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        return Preview(kind="binary", truncated=False)
    listed = [ArchiveMember(name=i.filename, size=i.file_size, type="directory" if i.is_dir() else "file")
              for i in infos[:MAX_MEMBERS]]  # fmt: skip
    return Preview(kind="archive", truncated=len(infos) > MAX_MEMBERS, members=listed)


def _member_type(member: tarfile.TarInfo) -> Literal["file", "directory", "link", "other"]:
    if member.isreg():
        return "file"
    if member.isdir():
        return "directory"
    return "link" if member.issym() or member.islnk() else "other"
