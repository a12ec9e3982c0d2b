"""The watch reads what has arrived, not a line at a time: lines are cut from chunks whatever their
boundaries, a line may span many chunks, and a stream may end without a final newline."""

from __future__ import annotations

import orjson
import pytest

from runledger.agent.watching import Lines, StreamError

EVENTS = [orjson.dumps({"type": "MODIFIED", "object": {"metadata": {"name": f"wf-{i}"}, "pad": "x" * i}})
          for i in range(40)]  # fmt: skip
STREAM = b"\n".join(EVENTS) + b"\n"


def cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 7, 64, 1000, len(STREAM)])
def test_every_line_comes_out_once_and_whole_whatever_the_chunk_size(size):
    lines = Lines()
    out = [line for chunk in cut(STREAM, size) for line in lines.feed(chunk)]
    assert out == EVENTS
    assert lines.rest() == b""


def test_a_line_spanning_many_chunks_is_joined():
    lines = Lines()
    big = EVENTS[-1]
    assert [line for chunk in cut(big, 5) for line in lines.feed(chunk)] == []
    assert lines.feed(b"\n" + EVENTS[0] + b"\n") == [big, EVENTS[0]]


def test_a_stream_ending_without_a_newline_leaves_its_last_line():
    lines = Lines()
    assert lines.feed(EVENTS[0] + b"\n" + EVENTS[1][:10]) == [EVENTS[0]]
    assert lines.feed(EVENTS[1][10:]) == []
    assert lines.rest() == EVENTS[1]
    assert lines.rest() == b""


def test_empty_lines_are_kept_for_the_reader_to_skip():
    assert Lines().feed(b"\n\n" + EVENTS[0] + b"\n") == [b"", b"", EVENTS[0]]


def test_a_line_that_never_ends_is_a_broken_stream_not_a_growing_buffer():
    lines = Lines(max_line_bytes=1000)
    lines.feed(b"x" * 600)
    with pytest.raises(StreamError, match="passed 1000 bytes"):
        lines.feed(b"x" * 600)
