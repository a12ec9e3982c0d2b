"""Unpack an Argo output artifact to the one file it holds, in memory and with hard limits.

Argo stores a file artifact as a gzipped tar holding that one file (`archive: tar`, the default),
as a zip (`archive: zip`) or as the raw file (`archive: none`). The key name says nothing reliable
about which, so the format is read from the bytes' magic numbers. Everything stays in memory and
nothing is extracted to disk: tar members are read through `extractfile`, zip entries through a
bounded `read`. The content is untrusted (any step can write any bytes), so every size is capped
before it is allocated: the input, the gunzipped stream (decompressed in bounded chunks, stopped
as soon as it passes the cap or the ratio), the member's declared size and the bytes actually read.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
import zlib

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or the end record of an empty zip
TAR_MAGIC = b"ustar"  # POSIX "ustar\x0000" and GNU "ustar  \x00" both start with it
TAR_MAGIC_OFFSET = 257
# Room for what an archive adds around the file: tar headers (PAX ones can be long), padding to
# 512-byte blocks, the end-of-archive blocks and the 10 KiB record padding some writers add.
ARCHIVE_OVERHEAD = 64 * 1024
_CHUNK = 64 * 1024


class ArchiveError(ValueError):
    """The bytes are not an artifact holding exactly one safe, small enough regular file."""


def unpack_single_file(data: bytes, *, max_bytes: int = 1 << 20, max_ratio: int = 100) -> bytes:
    """Return the one file inside an Argo artifact (tgz, tar, zip or raw), or raise ArchiveError."""
    if data[:2] == GZIP_MAGIC:
        _check_input_size(data, kind="gzip", max_bytes=max_bytes)
        tar_bytes = _gunzip(data, max_bytes=max_bytes, max_ratio=max_ratio)
        return _single_tar_member(tar_bytes, max_bytes=max_bytes, inside="gzip stream")
    if data[:4] in ZIP_MAGICS:
        _check_input_size(data, kind="zip", max_bytes=max_bytes)
        return _single_zip_entry(data, max_bytes=max_bytes, max_ratio=max_ratio)
    if data[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + len(TAR_MAGIC)] == TAR_MAGIC:
        _check_input_size(data, kind="tar", max_bytes=max_bytes)
        return _single_tar_member(data, max_bytes=max_bytes, inside="tar archive")
    if len(data) > max_bytes:
        raise ArchiveError(f"raw object is {len(data)} bytes, over the limit of {max_bytes} bytes")
    return data


def unpack_file(data: bytes, *, max_bytes: int = 1 << 20, max_ratio: int = 100) -> bytes:
    """Like unpack_single_file, and a plain gzip stream (a `.gz` of one file, no tar inside) is
    its content too: for reading a file that may have been compressed by hand, such as a log."""
    if data[:2] == GZIP_MAGIC:
        _check_input_size(data, kind="gzip", max_bytes=max_bytes)
        inner = _gunzip(data, max_bytes=max_bytes, max_ratio=max_ratio)
        if inner[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + len(TAR_MAGIC)] == TAR_MAGIC:
            return _single_tar_member(inner, max_bytes=max_bytes, inside="gzip stream")
        if len(inner) > max_bytes:
            raise ArchiveError(f"gzip stream expands past the limit of {max_bytes} bytes")
        return inner
    return unpack_single_file(data, max_bytes=max_bytes, max_ratio=max_ratio)


def _check_input_size(data: bytes, *, kind: str, max_bytes: int) -> None:
    # An archive of a file within the limit is never much bigger than the file itself (stored or
    # incompressible data grows by headers only), so a bigger one cannot hold an acceptable file.
    if len(data) > max_bytes + ARCHIVE_OVERHEAD:
        raise ArchiveError(
            f"{kind} archive is {len(data)} bytes, too big to hold a file within the limit of {max_bytes} bytes"
        )


def _gunzip(data: bytes, *, max_bytes: int, max_ratio: int) -> bytes:
    cap = max_bytes + ARCHIVE_OVERHEAD
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = data
    try:
        while not decompressor.eof:
            before = len(pending)
            piece = decompressor.decompress(pending, _CHUNK)
            pending = decompressor.unconsumed_tail
            out += piece
            if len(out) > cap:
                raise ArchiveError(
                    f"gzip stream expands past {cap} bytes (limit {max_bytes} bytes plus archive overhead); stopped"
                )
            # Below the overhead allowance the ratio proves nothing: a tiny file in a tar padded
            # to a 10 KiB record legitimately compresses more than 100:1.
            if len(out) > ARCHIVE_OVERHEAD and len(out) > max_ratio * len(data):
                raise ArchiveError(
                    f"gzip stream expands more than {max_ratio}x its {len(data)} compressed bytes"
                    " (a decompression bomb); stopped"
                )
            if not piece and len(pending) == before:
                raise ArchiveError("gzip stream is truncated: input ended before the end of the stream")
    except zlib.error as exc:
        raise ArchiveError(f"corrupt gzip stream: {exc}") from exc
    if decompressor.unused_data.strip(b"\x00"):
        # Argo writes a single gzip member; anything after it is corruption or a second member.
        raise ArchiveError(f"{len(decompressor.unused_data)} unexpected bytes after the end of the gzip stream")
    return bytes(out)


def _single_tar_member(data: bytes, *, max_bytes: int, inside: str) -> bytes:
    try:
        # "r:" means uncompressed and seekable in memory; no streaming mode, no extraction to disk.
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            members = archive.getmembers()
            if len(members) != 1:
                what = "no members" if not members else f"{len(members)} members"
                raise ArchiveError(f"{inside} holds {what}; an artifact file must hold exactly one")
            (member,) = members
            _check_name(member.name)
            if not member.isreg():
                raise ArchiveError(f"tar member {_show(member.name)} is {_tar_kind(member)}, not a regular file")
            if member.size > max_bytes:
                raise ArchiveError(
                    f"tar member {_show(member.name)} is {member.size} bytes, over the limit of {max_bytes} bytes"
                )
            stream = archive.extractfile(member)
            if stream is None:  # isreg() above makes this unreachable; kept as a guard
                raise ArchiveError(f"tar member {_show(member.name)} has no content")
            content = stream.read(max_bytes + 1)
    except ArchiveError:
        raise
    except (tarfile.TarError, EOFError, ValueError, OverflowError) as exc:
        raise ArchiveError(f"{inside} is not a readable tar archive: {exc}") from exc
    if len(content) != member.size:
        raise ArchiveError(f"tar member {_show(member.name)} is truncated: {len(content)} of {member.size} bytes")
    return content


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symlink to {_show(member.linkname)}"
    if member.islnk():
        return f"a hardlink to {_show(member.linkname)}"
    if member.isdir():
        return "a directory"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a FIFO"
    return f"of tar type {member.type!r}"


def _single_zip_entry(data: bytes, *, max_bytes: int, max_ratio: int) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            for info in infos:
                # Argo's zipFile() names a single file's entry by the absolute path it zipped
                # (e.g. /mainctrfs/tmp/outputs/x.json), so a leading slash is normal here.
                _check_name(info.filename, allow_absolute=True)
            files = [info for info in infos if not info.is_dir()]
            if len(files) != 1:
                what = "no file" if not files else f"{len(files)} files"
                raise ArchiveError(f"zip archive holds {what}; an artifact file must hold exactly one")
            (info,) = files
            unix_type = (info.external_attr >> 16) & 0o170000
            if unix_type and unix_type != 0o100000:
                kind = "a symlink" if unix_type == 0o120000 else f"of unix file type {oct(unix_type)}"
                raise ArchiveError(f"zip entry {_show(info.filename)} is {kind}, not a regular file")
            if info.flag_bits & 0x1:
                raise ArchiveError(f"zip entry {_show(info.filename)} is encrypted")
            if info.file_size > max_bytes:
                raise ArchiveError(
                    f"zip entry {_show(info.filename)} is {info.file_size} bytes, over the limit of {max_bytes} bytes"
                )
            if info.file_size > ARCHIVE_OVERHEAD and info.file_size > max_ratio * max(info.compress_size, 1):
                raise ArchiveError(
                    f"zip entry {_show(info.filename)} expands more than {max_ratio}x"
                    f" ({info.compress_size} to {info.file_size} bytes; a decompression bomb)"
                )
            # The declared sizes are the writer's word; the bounded read is what holds.
            with archive.open(info) as stream:
                content = stream.read(max_bytes + 1)
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise ArchiveError(f"zip archive is not readable: {exc}") from exc
    if len(content) > max_bytes:
        raise ArchiveError(f"zip entry {_show(info.filename)} expands past the limit of {max_bytes} bytes")
    return content


def _check_name(name: str, *, allow_absolute: bool = False) -> None:
    if not name or "\x00" in name:
        raise ArchiveError(f"archive member has an invalid name {_show(name)}")
    if name.startswith(("/", "\\")) and not allow_absolute:
        raise ArchiveError(f"archive member {_show(name)} has an absolute path")
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        raise ArchiveError(f"archive member {_show(name)} has a drive-letter path")
    if ".." in name.replace("\\", "/").split("/"):
        raise ArchiveError(f"archive member {_show(name)} has a '..' path component")


def _show(name: str) -> str:
    # Names come from the archive: quoted, escaped by repr, and cut short (PAX names can be huge).
    shown = repr(name)
    return shown if len(shown) <= 120 else shown[:117] + "..."
