"""A TCP proxy in front of PostgreSQL or Redis that a test can stall, kill and restore.

The shared servers are never touched: the process under test connects to the
proxy, and the test cuts the proxy. ``stall()`` keeps every connection open
but relays nothing (a hung network); ``kill()`` drops every connection and
refuses new ones (a server gone); ``restore()`` brings it back on the same port.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading


class FaultProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self._relaying = threading.Event()
        self._relaying.set()
        self._closing = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.port = 0
        self.connections = 0  # connection attempts that reached the proxy: what a client's retries cost
        self._refusing = False
        self._listen()

    # --- control ---
    def stall(self) -> None:
        self._relaying.clear()

    def kill(self) -> None:
        self._refusing = False
        self._relaying.set()
        self._stop_listening()
        with self._lock:
            for sock in list(self._sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def refuse(self) -> None:
        """Take every connection attempt and close it at once (a server refusing clients), counting them."""
        self.kill()
        self._refusing = True
        self._listen()

    def restore(self) -> None:
        self._refusing = False
        self._relaying.set()
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self._closing.set()
        self.kill()

    # --- plumbing ---
    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # killed
            self.connections += 1
            if self._refusing:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update({client, server})
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while not self._closing.is_set():
                readable, _, _ = select.select([source], [], [], 0.2)
                if not readable:
                    continue
                self._relaying.wait()  # a stall holds the data here; the connection stays open
                data = source.recv(65536)
                if not data:
                    break
                self._relaying.wait()
                target.sendall(data)
        except (OSError, ValueError):  # ValueError: the other pump closed this socket (fd -1) meanwhile
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(target)
