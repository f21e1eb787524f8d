"""Streaming binary answers (``attachments.get_file``) instead of holding them in memory.

    with client.attachments.with_streaming_response.get_file(key) as file:
        print(file.content_type, file.filename, file.content_length)
        for chunk in file.iter_bytes():          # or: file.write_to("invoice.pdf")
            ...

    async with client.attachments.with_streaming_response.get_file(key) as file:
        await file.write_to(directory)           # a directory: the file keeps Sage's name

The generated method is the same one that returns ``bytes``: called through
``with_streaming_response`` (a generated class whose methods are wrapped by ``to_streamed``),
the client prepares the request and leaves it unsent in the wrapper's ``Capture`` (see
``_response``) instead of sending it. The request is sent when the ``with`` block is entered, with retries and error mapping as for any call (an error answer's
small body is read to build the error); the body is read only as the caller iterates, and the
connection is released when the block ends.
"""

from __future__ import annotations

import email.message
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec

from ._errors import ArgumentValueError, OutOfOrderError
from ._files import replacing
from ._response import capturing, request_id_of

if TYPE_CHECKING:
    import httpx

    from ._client import AsyncClient, SyncClient
    from ._prepare import PreparedRequest

P = ParamSpec("P")
CHUNK_SIZE = 64 * 1024


def filename_of(headers: httpx.Headers) -> str | None:
    """The file name from ``Content-Disposition`` (``filename*`` of RFC 6266 preferred), reduced
    to its last path component so that it can never point outside the directory written to."""
    value = headers.get("content-disposition")
    if not value:
        return None
    message = email.message.Message()
    message["content-disposition"] = value
    name = message.get_filename()
    if not name:
        return None
    name = os.path.basename(name.replace("\\", "/")).strip()
    if name in ("", ".", "..") or not name.isprintable():  # a NUL: no file can have that name
        return None
    return name


class _FileInfo:
    """What both streams offer once entered: the response's file name, type and length.

    The body is read once, inside the ``with`` block: httpx's own errors for a body read again
    or after its connection was closed (``StreamConsumed``, ``StreamClosed``) are no SageError,
    so the stream knows its state and says which order was broken. What the headers said stays
    readable after the block."""

    def __init__(self, client: SyncClient | AsyncClient, request: PreparedRequest) -> None:
        self._client = client
        self._request = request
        self._response: httpx.Response | None = None
        self._open = False  # inside the with block
        self._read = False  # the body's reading has begun

    def _opened(self) -> httpx.Response:
        if self._response is None:
            raise OutOfOrderError("use the stream in a `with` block: it is sent when entered")
        return self._response

    def _entering(self) -> None:
        if self._open:
            raise OutOfOrderError("the stream is open already: enter it once at a time")

    def _entered(self, response: httpx.Response) -> None:
        self._response, self._open, self._read = response, True, False

    def _body(self) -> httpx.Response:
        """The response, its body to be read now: once, inside the ``with`` block."""
        response = self._opened()
        if not self._open:
            raise OutOfOrderError(
                "read the file inside its `with` block: its connection closed when the block ended"
            )
        if self._read:
            raise OutOfOrderError(
                "a file's body is read once: open the stream again to read it again"
            )
        self._read = True
        return response

    @property
    def response(self) -> httpx.Response:
        return self._opened()

    @property
    def content_type(self) -> str | None:
        value: str | None = self._opened().headers.get("content-type")
        return value

    @property
    def filename(self) -> str | None:
        return filename_of(self._opened().headers)

    @property
    def content_length(self) -> int | None:
        value = self._opened().headers.get("content-length")
        return int(value) if value and value.isdigit() else None

    @property
    def request_id(self) -> str | None:
        return request_id_of(self._opened().headers)

    def _target(self, path: str | os.PathLike[str]) -> Path:
        """``path`` itself, or the file's own name inside ``path`` when that is a directory."""
        target = Path(path)
        if target.is_dir():
            name = self.filename
            if name is None:
                raise ArgumentValueError(
                    "path", f"{target} is a directory and Sage sent no file name: give a file path"
                )
            target = target / name
        return target


class FileStream(_FileInfo):
    """A binary answer, read in chunks. Enter it to send the request."""

    _client: SyncClient

    def __enter__(self) -> FileStream:
        self._entering()
        self._entered(self._client.send(self._request))
        return self

    def __exit__(self, *_exc: object) -> None:
        self._open = False
        if self._response is not None:
            self._response.close()

    def iter_bytes(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        return self._body().iter_bytes(chunk_size)

    def write_to(self, path: str | os.PathLike[str]) -> Path:
        """Write the body to ``path`` (or into the directory ``path``); returns the file written.
        Written to a temporary file first, so an interrupted download leaves no partial file."""
        target = self._target(path)
        chunks = self.iter_bytes()  # out of order: raised before any file is made
        with replacing(target) as out:
            for chunk in chunks:
                out.write(chunk)
        return target


class AsyncFileStream(_FileInfo):
    """A binary answer, read in chunks. Enter it (``async with``) to send the request."""

    _client: AsyncClient

    async def __aenter__(self) -> AsyncFileStream:
        self._entering()
        self._entered(await self._client.send(self._request))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._open = False
        if self._response is not None:
            await self._response.aclose()

    def aiter_bytes(self, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        return self._body().aiter_bytes(chunk_size)

    async def write_to(self, path: str | os.PathLike[str]) -> Path:
        target = self._target(path)
        chunks = self.aiter_bytes()  # out of order: raised before any file is made
        with replacing(target) as out:
            async for chunk in chunks:
                out.write(chunk)
        return target


class AsyncFileOpening:
    """``async with resource.with_streaming_response.get_file(key) as file``: entering runs the
    generated coroutine (which prepares the request without sending it), then opens the stream."""

    def __init__(self, start: Callable[[], Awaitable[bytes]]) -> None:
        self._start = start
        self._stream: AsyncFileStream | None = None

    async def __aenter__(self) -> AsyncFileStream:
        with capturing(hold=True) as capture:
            await self._start()
        assert isinstance(capture.stream, AsyncFileStream), "not a method answering a file"
        self._stream = await capture.stream.__aenter__()
        return self._stream

    async def __aexit__(self, *exc: object) -> None:
        if self._stream is not None:
            await self._stream.__aexit__(*exc)


def to_streamed(method: Callable[P, bytes]) -> Callable[P, FileStream]:
    """A method answering a file, answering an unopened ``FileStream`` instead."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> FileStream:
        with capturing(hold=True) as capture:
            method(*args, **kwargs)
        assert isinstance(capture.stream, FileStream), "not a method answering a file"
        return capture.stream

    return call


def async_to_streamed(method: Callable[P, Awaitable[bytes]]) -> Callable[P, AsyncFileOpening]:
    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> AsyncFileOpening:
        return AsyncFileOpening(functools.partial(method, *args, **kwargs))

    return call
