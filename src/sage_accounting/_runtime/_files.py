"""Files that change all at once: a new version is written aside and renamed over the old.

Every file the SDK writes (a streamed download, the CLI's saved login, an export and its
cursor) is written through ``replacing``, ``replacing_text`` or ``write_atomic``: a reader sees the old file or the
whole new one, never a part; an error, Ctrl-C or kill before the rename leaves the old file
as it was. Each writer has its own temporary file (``.NAME.<pid>.<random>.tmp`` beside it), so
two writers at once (threads or processes) never write into one another's; the last rename
wins, whole. ``FileTokenStore`` keeps its own protocol (a temporary file reserved before a
refresh and recovered by the next process, see ``_tokens``) and shares ``fsync_directory``.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

PRIVATE = 0o600  # the owner alone: tokens, a client secret
SHARED = 0o666  # as open() makes files: less the umask


def temporary_name(target: Path) -> Path:
    """A name beside ``target`` no other writer uses: ``.NAME.<pid>.<random>.tmp``."""
    return target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


@contextlib.contextmanager
def replacing(target: Path, *, private: bool = False) -> Iterator[BinaryIO]:
    """A new binary file that takes ``target``'s place when the block ends without an error:
    flushed, fsynced, renamed over it, the folder fsynced. ``private``: mode 0600 from its
    creation, else 0666 less the umask. On an error (or an interrupt) the temporary file is
    removed and ``target`` is untouched. The folder must exist: none is made on a guess."""
    partial = temporary_name(target)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE if private else SHARED)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
        fsync_directory(target.parent)
    finally:
        partial.unlink(missing_ok=True)  # gone already when it was renamed


@contextlib.contextmanager
def replacing_text(
    target: Path, *, private: bool = False, newline: str | None = None
) -> Iterator[TextIO]:
    """``replacing`` for UTF-8 text (``newline`` as for ``open``)."""
    with replacing(target, private=private) as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8", newline=newline, write_through=True)
        try:
            yield out
            out.flush()
        finally:
            out.detach()  # the binary file is closed (or removed) by replacing


def write_atomic(target: Path, data: str | bytes, *, private: bool = False) -> None:
    """Replace ``target`` with ``data`` (text as UTF-8) all at once (see ``replacing``)."""
    with replacing(target, private=private) as out:
        out.write(data.encode() if isinstance(data, str) else data)


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
