"""Reading a source file from a path or an HTTP(S) URL: bounded in time and size, with clear errors."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings


class SourceFetchError(Exception):
    """The source could not be read; the message says why, for a person."""


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count:,} bytes"


def _limit() -> int:
    return int(settings.SYNC_MAX_SOURCE_BYTES)


def _timeout() -> float:
    return float(settings.SYNC_FETCH_TIMEOUT_SECONDS)


def read_file(path: str) -> bytes:
    limit = _limit()
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > limit:
            raise SourceFetchError(f"{path} is {_size(size)}, larger than the limit of {_size(limit)}")
        return file.read_bytes()
    except FileNotFoundError:
        raise SourceFetchError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceFetchError(f"{path} is a directory, not a file") from None
    except PermissionError:
        raise SourceFetchError(f"{path}: permission denied") from None


def _read_within(response: object, most: int, *, deadline: float, url: str) -> bytes:
    """The body in chunks, within one overall deadline (the socket timeout is per read: a server
    dripping a byte a minute would otherwise hold the sync for ever)."""
    chunks, size = [], 0
    while size < most:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not finish sending in time")
        chunk = response.read(min(1024 * 1024, most - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_url(url: str) -> bytes:
    """The body of ``url`` (http or https only), or :class:`SourceFetchError`."""
    if not url.lower().startswith(("http://", "https://")):
        raise SourceFetchError(f"{url!r} is not an http(s) URL")
    limit, timeout = _limit(), _timeout()
    request = urllib.request.Request(url, headers={"User-Agent": "model-registry-sync/1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise SourceFetchError(
                    f"{url} is {_size(int(declared))}, larger than the limit of {_size(limit)}"
                )
            body = _read_within(response, limit + 1, deadline=time.monotonic() + timeout, url=url)
    except urllib.error.HTTPError as error:
        raise SourceFetchError(f"{url} answered HTTP {error.code} {error.reason}") from None
    except TimeoutError:
        raise SourceFetchError(f"{url} did not answer within {timeout:g} s") from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            raise SourceFetchError(f"{url} did not answer within {timeout:g} s") from None
        raise SourceFetchError(f"{url} could not be reached: {reason}") from None
    except OSError as error:
        raise SourceFetchError(f"{url} could not be read: {error}") from None
    if len(body) > limit:
        raise SourceFetchError(f"{url} is larger than the limit of {_size(limit)}")
    return body
