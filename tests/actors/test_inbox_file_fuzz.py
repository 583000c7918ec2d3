"""Fuzz of the inbox file reader against a model: random bursts of random lines (blank, long,
overlong, any bytes but a newline) mixed with reads, truncations, deletions and recreations, new
files renamed over the inbox, and rotations that leave an unread tail behind. Every complete
line is handed out exactly once and in order (an overlong one cut to its first bytes), except
lines truncated away before they were read, which the README says are lost; nothing else is
ever handed out."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.inbox_file import MAX_LINE_BYTES, InboxFile

_LINE = st.one_of(
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")),
    st.integers(min_value=MAX_LINE_BYTES - 10, max_value=3 * MAX_LINE_BYTES),  # b"y" * n
)
_BURST = st.lists(_LINE, min_size=1, max_size=40).flatmap(
    lambda lines: st.integers(min_value=1, max_value=60).map(lambda k: lines * k)
)
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), _BURST),
        st.tuples(st.just("read"), st.just([])),
        st.tuples(st.just("truncate"), _BURST),
        st.tuples(st.just("recreate"), _BURST),
        st.tuples(st.just("rename_over"), _BURST),
        st.tuples(st.just("rotate_with_tail"), _BURST),
    ),
    max_size=12,
)


class _Model:
    """The reader and what it must hand out. The reader holds the file it last read open: a
    file replaced at the path is drained from there; a file it never opened (replaced before
    any read) is never seen, as in the engine between two polls."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reader = InboxFile(path)
        self.counter = 0
        self.expected: list[bytes] = []  # what must come out, in order
        self.unread: list[bytes] = []  # lines of the file at the path, not yet read
        self.held = False  # the reader holds the file at the path open
        self.old_unread: list[bytes] = []  # unread lines of the file replaced while held
        self.got: list[bytes] = []

    def lines(self, burst: list[bytes | int]) -> list[bytes]:
        out = []
        for raw in burst:
            self.counter += 1
            out.append(b"%d:" % self.counter + (b"y" * raw if isinstance(raw, int) else raw))
        return out

    def write(self, path: Path, lines: list[bytes], mode: str = "ab") -> None:
        with path.open(mode) as handle:
            handle.write(b"".join(line + b"\n" for line in lines))

    def read(self) -> None:
        for _ in range(100_000):
            chunk = self.reader.read_chunk()
            self.got.extend(line.data for line in chunk.lines)
            if not chunk.more:
                break
        self.expected.extend(self.old_unread + self.unread)
        self.old_unread, self.unread = [], []
        self.held = self.path.exists()

    def replaced(self, tail: list[bytes], lines: list[bytes]) -> None:
        """The path names a new file holding ``lines``; the old one had ``tail`` appended."""
        if self.held:
            self.old_unread = self.unread + tail
        self.unread, self.held = list(lines), False

    def step(self, op: str, burst: list[bytes | int]) -> None:
        lines = self.lines(burst)
        if op == "append":
            self.write(self.path, lines)
            self.unread.extend(lines)
        elif op == "read":
            self.read()
        elif op == "truncate":
            if self.path.exists():
                os.truncate(self.path, 0)
            self.unread = list(lines)  # what was unread is lost: truncated before a read
            self.write(self.path, lines)
        elif op == "recreate":
            if self.path.exists():
                self.path.unlink()  # an open file keeps its unread lines
            self.write(self.path, lines)
            self.replaced([], lines)
        elif op == "rename_over":
            new = self.path.with_suffix(".new")
            self.write(new, lines, "wb")
            existed = self.path.exists()
            os.replace(new, self.path)
            if existed:
                self.replaced([], lines)
            else:
                self.unread = list(lines)
        else:  # rotate_with_tail: an unterminated last line left in the file rotated away
            tail = [b"%d:tail" % self.counter]
            if not self.path.exists():
                self.write(self.path, lines)
                self.unread.extend(lines)
                return
            with self.path.open("ab") as handle:
                handle.write(tail[0])
            os.replace(self.path, self.path.with_suffix(f".{self.counter}"))
            self.write(self.path, lines)
            self.replaced(tail, lines)


@settings(max_examples=150, deadline=None)
@given(_OPS)
def test_every_line_is_handed_out_once_whatever_happens_to_the_file(
    ops: list[tuple[str, list[bytes | int]]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        model = _Model(Path(tmp) / "inbox.jsonl")
        try:
            for op, burst in ops:
                model.step(op, burst)
            model.read()
            want = [line[:MAX_LINE_BYTES] for line in model.expected]
            assert model.got == want
        finally:
            model.reader.close()
