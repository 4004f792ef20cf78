"""Being told when a SQLite file changes, instead of asking it over and over (Linux inotify).

The bridge tails Rasa's SQL event broker, a SQLite file that another process writes. Rather
than reading it every few milliseconds, it watches the file's directory with inotify and reads
when the database, its write-ahead log or its rollback journal is written (`<name>`,
`<name>-wal`, `<name>-journal`; not `-shm`, the readers' shared memory). The directory is
watched, not the files, because SQLite creates and deletes the -wal and -journal files as it
goes. The watch only says "something may have changed": the reader still reads, and keeps a
slow safety poll for filesystems where inotify says nothing (network mounts, some container
setups) or systems without it.

A thin ctypes adapter over libc's inotify_init1 / inotify_add_watch, read through the asyncio
loop's `add_reader`, so waiting costs nothing: no thread, no timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import struct
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

# <sys/inotify.h>
IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
#: Writes. Merely opening a database creates its -wal and -shm files, and closing them is a
#: "close after write" for inotify: a reader that opens and closes the database it watches must
#: not watch IN_CLOSE_WRITE (it would wake itself for ever); one that keeps its connection open
#: should, as a writer closing its connection is the surest sign its commit is visible.
WRITES = IN_MODIFY | IN_MOVED_TO
WRITES_AND_CLOSES = WRITES | IN_CLOSE_WRITE
_ALWAYS = IN_DELETE_SELF | IN_MOVE_SELF
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of NUL-padded name)


def sqlite_files(path: Path) -> frozenset[str]:
    """The names a SQLite database at `path` writes to: the file, its WAL and its journal."""
    return frozenset({path.name, f"{path.name}-wal", f"{path.name}-journal"})


def parse_events(data: bytes) -> Iterable[tuple[int, str]]:
    """(mask, name) of each inotify_event in a read() buffer."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        _wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
        offset += _HEADER.size
        name = data[offset : offset + length].split(b"\0", 1)[0]
        offset += length
        yield mask, os.fsdecode(name)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1  # noqa: B018 - present only where the kernel interface is
    except (OSError, AttributeError):
        return None
    return libc


class FileWatch:
    """Calls `on_change` (on the event loop) when one of `names` in `directory` is written.

    `start()` returns False where inotify cannot be used; the caller then relies on its safety
    poll alone. If the directory itself goes away the watch ends (`active` turns False)."""

    def __init__(
        self,
        directory: Path,
        names: Iterable[str],
        on_change: Callable[[], None],
        mask: int = WRITES,
    ) -> None:
        self.directory = directory
        self.names = frozenset(names)
        self.mask = mask
        self._on_change = on_change
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: How many relevant changes were seen (tests and diagnostics).
        self.changes = 0

    @property
    def active(self) -> bool:
        return self._fd is not None

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> bool:
        libc = _libc()
        if libc is None:
            logger.info("no inotify here: reading %s on a timer only", self.directory)
            return False
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            logger.warning("inotify_init1 failed (%s): timer only", os.strerror(ctypes.get_errno()))
            return False
        if libc.inotify_add_watch(fd, os.fsencode(self.directory), self.mask | _ALWAYS) < 0:
            error = os.strerror(ctypes.get_errno())
            os.close(fd)
            logger.warning("cannot watch %s (%s): timer only", self.directory, error)
            return False
        self._fd = fd
        self._loop = loop or asyncio.get_running_loop()
        self._loop.add_reader(fd, self._readable)
        return True

    def _readable(self) -> None:
        assert self._fd is not None
        try:
            data = os.read(self._fd, 64 * 1024)
        except BlockingIOError:
            return
        except OSError:
            logger.warning("reading inotify events failed; timer only", exc_info=True)
            self.close()
            return
        changed, gone = False, False
        for mask, name in parse_events(data):
            if mask & IN_Q_OVERFLOW:
                changed = True  # events were lost: assume ours was one of them
            elif mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED):
                gone = changed = True
            elif name in self.names:
                changed = True
        if changed:
            self.changes += 1
            self._on_change()
        if gone:
            logger.warning("%s was removed or moved: timer only", self.directory)
            self.close()

    def close(self) -> None:
        if self._fd is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._fd = None


class ThrottledCall:
    """`callback` at once when called, then no more often than every `interval` seconds (calls
    in between are folded into one at the end of the interval), and once more `interval` after
    the last one: a change seen through inotify may not be visible to readers yet (SQLite makes
    a commit visible in its -shm index, which inotify does not see, after writing the -wal)."""

    def __init__(self, callback: Callable[[], None], interval: float) -> None:
        self._callback = callback
        self._interval = interval
        self._last = float("-inf")
        self._pending: asyncio.TimerHandle | None = None
        self._changed = False

    def __call__(self) -> None:
        self._changed = True
        if self._pending is None:
            loop = asyncio.get_running_loop()
            at = max(loop.time(), self._last + self._interval)
            self._pending = loop.call_at(at, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._pending = None
        self._last = loop.time()
        self._callback()
        if self._changed:  # the settling call, unless more changes come first
            self._changed = False
            self._pending = loop.call_at(self._last + self._interval, self._fire, loop)

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
