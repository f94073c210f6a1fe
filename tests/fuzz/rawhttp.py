"""A minimal HTTP/1.1 client that sends exactly the bytes it is given: the request target as
is (`..`, `%00`, `%ED%A0%80` are not normalised away as httpx would), raw header bytes
(non-ASCII, invalid UTF-8) and any body, with a hard deadline for the whole exchange.

One connection per request (`Connection: close`), so no request can affect the next one
through the connection; the answer is read while the body is still being written, so a server
that answers a 2 MB body early (413, 401) is heard rather than seen as a broken pipe."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any


class Hang(Exception):
    """No complete answer within the deadline."""


class Dropped(Exception):
    """The connection closed before a complete answer."""


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names; the last value of a repeated header
    body: bytes
    seconds: float
    all_headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body)


async def send(
    host: str,
    port: int,
    method: str,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes | None,
    deadline_seconds: float,
) -> RawResponse:
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(deadline_seconds):
            return await _exchange(host, port, method, target, headers, body, started)
    except TimeoutError:
        raise Hang(f"no answer within {deadline_seconds:.0f} s") from None


async def _exchange(
    host: str,
    port: int,
    method: str,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes | None,
    started: float,
) -> RawResponse:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: " + f"{host}:{port}".encode()]
        head += [name + b": " + value for name, value in headers]
        if body is not None:
            head.append(b"Content-Length: " + str(len(body)).encode())
        head.append(b"Connection: close")
        writer.write(b"\r\n".join(head) + b"\r\n\r\n")
        writing = asyncio.create_task(_write_body(writer, body or b""))
        try:
            response = await _read_response(reader)
        finally:
            if not writing.done():
                writing.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await writing
        response.seconds = asyncio.get_running_loop().time() - started
        return response
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def _write_body(writer: asyncio.StreamWriter, body: bytes) -> None:
    for start in range(0, len(body), 65536):
        writer.write(body[start : start + 65536])
        await writer.drain()
    await writer.drain()


async def _read_response(reader: asyncio.StreamReader) -> RawResponse:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError) as error:
        raise Dropped(f"connection closed before the status line: {type(error).__name__}") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise Dropped(f"not an HTTP status line: {lines[0]!r}")
    status = int(parts[1])
    pairs: list[tuple[str, str]] = []
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            pairs.append((name.strip().lower(), value.strip()))
    headers = dict(pairs)
    try:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        else:
            body = await reader.read()
    except (asyncio.IncompleteReadError, ConnectionError) as error:
        raise Dropped(f"connection closed in the body of a {status}: {type(error).__name__}") from None
    return RawResponse(status, headers, body, 0.0, pairs)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
