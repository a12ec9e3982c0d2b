"""Unpacking Argo artifacts: the formats Argo writes are read, unsafe or oversized archives are not."""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
import tracemalloc
import zipfile
import zlib

import pytest

from runledger.indexer.unpacking import ArchiveError, unpack_single_file

METRICS = json.dumps({"metrics": [{"name": "accuracy-score", "numberValue": 0.923, "format": "PERCENTAGE"}]}).encode()


def tar_of(*members: tuple[tarfile.TarInfo, bytes], fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as archive:
        for info, content in members:
            archive.addfile(info, io.BytesIO(content) if info.isreg() else None)
    return buf.getvalue()


def file_member(name: str, content: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(content), 0o644, 1_700_000_000
    return info, content


def special_member(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, b""


def argo_tgz(name: str, content: bytes) -> bytes:
    # What Argo's TarGzToWriter does for a file: a gzip stream around a tar holding one member named
    # after the file's base name (Go's archive/tar writes USTAR headers for names like this).
    return gzip.compress(tar_of(file_member(name, content)))


def argo_zip(path: str, content: bytes) -> bytes:
    # Argo's zipFile() names the entry by the path it zipped, which is absolute.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(path, content)
    return buf.getvalue()


def gzip_of_zeros(*, header: bytes, zeros: int) -> bytes:
    """Gzip `header` plus `zeros` zero bytes without ever holding the zeros in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(header)]
    block = bytes(1 << 20)
    for _ in range(zeros // len(block)):
        parts.append(compressor.compress(block))
    parts.append(compressor.flush())
    return b"".join(parts)


def bomb_header(size: int) -> bytes:
    info = tarfile.TarInfo("mlpipeline-metrics.json")
    info.size = size
    return info.tobuf(format=tarfile.USTAR_FORMAT)


# --- what Argo writes -------------------------------------------------------------------------


def test_argo_default_tgz_of_the_metrics_file_unpacks_to_the_json():
    assert unpack_single_file(argo_tgz("mlpipeline-metrics.json", METRICS)) == METRICS


def test_raw_object_from_archive_none_is_returned_as_is():
    assert unpack_single_file(METRICS) == METRICS


def test_empty_raw_object_is_returned_as_is():
    assert unpack_single_file(b"") == b""


def test_zip_written_by_argo_with_an_absolute_entry_name_unpacks():
    data = argo_zip("/mainctrfs/tmp/outputs/mlpipeline-metrics.json", METRICS)
    assert unpack_single_file(data) == METRICS


def test_zip_with_a_directory_entry_beside_the_one_file_unpacks():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("outputs/", b"")
        archive.writestr("outputs/mlpipeline-metrics.json", METRICS)
    assert unpack_single_file(buf.getvalue()) == METRICS


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_plain_tar_is_recognised_by_its_ustar_magic_in_every_format(fmt):
    data = tar_of(file_member("mlpipeline-ui-metadata.json", b'{"outputs": []}'), fmt=fmt)
    assert unpack_single_file(data) == b'{"outputs": []}'


def test_a_small_tgz_padded_to_a_tar_record_is_not_mistaken_for_a_bomb():
    data = argo_tgz("m.json", b"{}")
    assert len(gzip.decompress(data)) / len(data) > 20  # the padded record really does compress that much
    assert unpack_single_file(data, max_ratio=5) == b"{}"


def test_a_file_exactly_at_the_limit_is_accepted():
    content = b"x" * 1000
    assert unpack_single_file(argo_tgz("f.txt", content), max_bytes=1000) == content
    assert unpack_single_file(content, max_bytes=1000) == content


# --- what is refused --------------------------------------------------------------------------


def test_tar_with_several_members_is_rejected_naming_the_count():
    data = gzip.compress(tar_of(file_member("a.json", b"{}"), file_member("b.json", b"{}"), file_member("c", b"")))
    with pytest.raises(ArchiveError, match="3 members"):
        unpack_single_file(data)


def test_tar_with_no_members_is_rejected():
    data = gzip.compress(tar_of())
    with pytest.raises(ArchiveError, match="no members|not a readable tar"):
        unpack_single_file(data)


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (special_member("metrics.json", tarfile.SYMTYPE, "/etc/passwd"), "symlink"),
        (special_member("metrics.json", tarfile.LNKTYPE, "other.json"), "hardlink"),
        (special_member("outputs", tarfile.DIRTYPE), "directory"),
        (special_member("metrics.json", tarfile.CHRTYPE), "device"),
        (special_member("metrics.json", tarfile.FIFOTYPE), "FIFO"),
    ],
)
def test_tar_member_that_is_not_a_regular_file_is_rejected(member, reason):
    with pytest.raises(ArchiveError, match=reason):
        unpack_single_file(gzip.compress(tar_of(member)))


@pytest.mark.parametrize("name", ["/etc/cron.d/evil", "../evil.json", "outputs/../../evil.json", "a\\..\\b"])
def test_tar_member_with_an_escaping_path_is_rejected(name):
    with pytest.raises(ArchiveError, match="absolute|'\\.\\.'"):
        unpack_single_file(gzip.compress(tar_of(file_member(name, b"{}"))))


def test_tar_member_over_the_size_limit_is_rejected_from_its_header():
    with pytest.raises(ArchiveError, match="2000 bytes, over the limit of 1000"):
        unpack_single_file(tar_of(file_member("big.bin", b"x" * 2000)), max_bytes=1000)


def test_truncated_tar_is_rejected():
    data = tar_of(file_member("f.bin", bytes(range(256)) * 40))[:3000]
    with pytest.raises(ArchiveError, match="truncated|not a readable tar"):
        unpack_single_file(data)


def test_decompression_bomb_stops_at_the_size_cap_without_inflating_it():
    bomb = gzip_of_zeros(header=bomb_header(50_000_000), zeros=50_000_000)
    assert len(bomb) < 100_000  # 50 MB of zeros squeezed into a few dozen kilobytes
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="expands past"):
            unpack_single_file(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6_000_000, f"peak {peak} bytes: the stream was inflated far past the cap"


def test_decompression_bomb_under_a_generous_size_cap_is_stopped_by_the_ratio():
    bomb = gzip_of_zeros(header=bomb_header(50_000_000), zeros=50_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="decompression bomb"):
            unpack_single_file(bomb, max_bytes=64 << 20, max_ratio=100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * len(bomb) * 3, f"peak {peak} bytes: the ratio did not stop the stream early"


def test_corrupt_gzip_is_rejected_with_a_clear_error():
    data = bytearray(argo_tgz("m.json", METRICS * 20))
    data[12:40] = b"\xff" * 28
    with pytest.raises(ArchiveError, match="corrupt gzip"):
        unpack_single_file(bytes(data))


def test_gzip_with_a_wrong_checksum_is_rejected():
    data = bytearray(argo_tgz("m.json", METRICS))
    data[-8] ^= 0xFF  # the CRC32 of the uncompressed data
    with pytest.raises(ArchiveError, match="corrupt gzip"):
        unpack_single_file(bytes(data))


def test_truncated_gzip_is_rejected_with_a_clear_error():
    data = argo_tgz("m.json", METRICS)
    with pytest.raises(ArchiveError, match="truncated"):
        unpack_single_file(data[: len(data) // 2])


def test_bytes_after_the_gzip_stream_are_rejected():
    with pytest.raises(ArchiveError, match="after the end of the gzip stream"):
        unpack_single_file(argo_tgz("m.json", METRICS) + b"garbage")


def test_gzip_of_something_other_than_a_tar_is_rejected():
    with pytest.raises(ArchiveError, match="not a readable tar"):
        unpack_single_file(gzip.compress(METRICS))


def test_raw_object_over_the_limit_is_rejected():
    with pytest.raises(ArchiveError, match="raw object is 1001 bytes, over the limit of 1000"):
        unpack_single_file(b"x" * 1001, max_bytes=1000)


def test_archive_too_big_to_hold_an_acceptable_file_is_rejected_before_reading():
    data = argo_tgz("f.bin", random.Random(7).randbytes(200_000))  # incompressible
    with pytest.raises(ArchiveError, match="too big to hold a file within the limit of 1000"):
        unpack_single_file(data, max_bytes=1000)


def test_zip_with_several_files_is_rejected_naming_the_count():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("a.json", b"{}")
        archive.writestr("b.json", b"{}")
    with pytest.raises(ArchiveError, match="2 files"):
        unpack_single_file(buf.getvalue())


def test_zip_with_only_a_directory_is_rejected():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("outputs/", b"")
    with pytest.raises(ArchiveError, match="no file"):
        unpack_single_file(buf.getvalue())


@pytest.mark.parametrize("name", ["../evil.json", "/tmp/../../etc/evil.json", "C:/evil.json"])
def test_zip_entry_with_an_escaping_path_is_rejected(name):
    with pytest.raises(ArchiveError, match="'\\.\\.'|drive-letter"):
        unpack_single_file(argo_zip(name, b"{}"))


def test_zip_entry_that_is_a_symlink_is_rejected():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        info = zipfile.ZipInfo("metrics.json")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveError, match="symlink"):
        unpack_single_file(buf.getvalue())


def test_zip_entry_over_the_size_limit_is_rejected():
    with pytest.raises(ArchiveError, match="over the limit of 1000"):
        unpack_single_file(argo_zip("f.bin", b"x" * 1001), max_bytes=1000)


def test_zip_bomb_is_rejected_by_its_compression_ratio():
    data = argo_zip("zeros.bin", bytes(8 << 20))
    with pytest.raises(ArchiveError, match="decompression bomb"):
        unpack_single_file(data, max_bytes=16 << 20, max_ratio=100)


def test_encrypted_zip_entry_is_rejected():
    data = bytearray(argo_zip("metrics.json", METRICS))
    # zipfile cannot write encrypted entries; set the "encrypted" flag in the central directory,
    # which is where readers take it from.
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1
    with pytest.raises(ArchiveError, match="encrypted"):
        unpack_single_file(bytes(data))


def test_corrupt_zip_is_rejected_with_a_clear_error():
    data = bytearray(argo_zip("m.json", METRICS * 20))
    data[40:80] = b"\x00" * 40
    with pytest.raises(ArchiveError, match="zip archive is not readable"):
        unpack_single_file(bytes(data))
