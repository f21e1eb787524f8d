"""Streaming binary answers (``attachments.get_file``) instead of holding them in memory.

    with client.attachments.with_streaming_response.get_file(key) as file:
        print(file.content_type, file.filename, file.content_length)
        for chunk in file.iter_bytes():          # or: file.write_to("invoice.pdf")
            ...

    async with client.attachments.with_streaming_response.get_file(key) as file:
        await file.write_to(directory)           # a directory: the file keeps Sage's name

The generated method is the same one that returns ``bytes``: called through
``with_streaming_response`` (a context variable, as ``with_raw_response`` does), the resource's
``_bytes`` helper returns an unopened stream instead of sending. The request is sent when the
``with`` block is entered, with retries and error mapping as for any call (an error answer's
small body is read to build the error); the body is read only as the caller iterates, and the
connection is released when the block ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.message
import inspect
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ._client import request_id_of

if TYPE_CHECKING:
    import httpx

    from ._client import AsyncClient, PreparedRequest, SyncClient

STREAMING: contextvars.ContextVar[bool] = contextvars.ContextVar("sage_streaming", default=False)
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
    return name if name not in ("", ".", "..") else None


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[BinaryIO]:
    """A file that becomes ``target`` only when the block ends without an error."""
    partial = target.with_name(f".{target.name}.part")
    try:
        with open(partial, "wb") as out:
            yield out
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


class _FileInfo:
    _response: httpx.Response | None

    def _opened(self) -> httpx.Response:
        if self._response is None:
            raise RuntimeError("use the stream in a `with` block: it is sent when entered")
        return self._response

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
                raise ValueError(
                    f"{target} is a directory and Sage sent no file name: give a file path"
                )
            target = target / name
        return target


class FileStream(_FileInfo):
    """A binary answer, read in chunks. Enter it to send the request."""

    def __init__(self, client: SyncClient, request: PreparedRequest) -> None:
        self._client = client
        self._request = request
        self._response = None

    def __enter__(self) -> FileStream:
        self._response = self._client.send(self._request)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._response is not None:
            self._response.close()

    def iter_bytes(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        return self._opened().iter_bytes(chunk_size)

    def write_to(self, path: str | os.PathLike[str]) -> Path:
        """Write the body to ``path`` (or into the directory ``path``); returns the file written.
        Written to a temporary file first, so an interrupted download leaves no partial file."""
        target = self._target(path)
        with _replacing(target) as out:
            for chunk in self.iter_bytes():
                out.write(chunk)
        return target


class AsyncFileStream(_FileInfo):
    def __init__(self, client: AsyncClient, request: PreparedRequest) -> None:
        self._client = client
        self._request = request
        self._response = None

    async def __aenter__(self) -> AsyncFileStream:
        self._response = await self._client.send(self._request)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._response is not None:
            await self._response.aclose()

    def aiter_bytes(self, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        return self._opened().aiter_bytes(chunk_size)

    async def write_to(self, path: str | os.PathLike[str]) -> Path:
        target = self._target(path)
        with _replacing(target) as out:
            async for chunk in self.aiter_bytes():
                out.write(chunk)
        return target


class _AsyncOpening:
    """``async with resource.with_streaming_response.get_file(key)``: the generated method is a
    coroutine returning the unopened stream; entering awaits it, then opens the stream."""

    def __init__(self, method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._call = (method, args, kwargs)
        self._stream: AsyncFileStream | None = None

    async def __aenter__(self) -> AsyncFileStream:
        method, args, kwargs = self._call
        token = STREAMING.set(True)
        try:
            stream = await method(*args, **kwargs)
        finally:
            STREAMING.reset(token)
        assert isinstance(stream, AsyncFileStream)  # a method answering bytes (checked before)
        self._stream = await stream.__aenter__()
        return self._stream

    async def __aexit__(self, *exc: object) -> None:
        if self._stream is not None:
            await self._stream.__aexit__(*exc)


class StreamingResponses:
    """The methods of a resource; those answering with a file return a stream to enter."""

    def __init__(self, resource: Any) -> None:
        self._resource = resource

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._resource, name)
        # Checked before any call: a method answering JSON would otherwise be sent, then refused.
        if getattr(method, "__annotations__", {}).get("return") not in ("bytes", bytes):
            raise TypeError(f"{name}() does not answer with a file: nothing to stream")
        if inspect.iscoroutinefunction(method):

            def open_async(*args: Any, **kwargs: Any) -> _AsyncOpening:
                return _AsyncOpening(method, args, kwargs)

            return open_async

        def open_sync(*args: Any, **kwargs: Any) -> FileStream:
            token = STREAMING.set(True)
            try:
                stream = method(*args, **kwargs)
            finally:
                STREAMING.reset(token)
            assert isinstance(stream, FileStream)  # a method answering bytes (checked before)
            return stream

        return open_sync
