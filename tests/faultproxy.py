"""A fault-injecting TCP proxy for tests: put it between a process and PostgreSQL, then refuse
new connections, cut open ones, or cut the one that sends given bytes (a statement, a COMMIT).

Pure Python with threads; it listens on an ephemeral port of 127.0.0.1 and never touches the
server itself, so tests can break "the database" for one process while others (and the test's
own checks) reach it directly.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.engine import make_url

_CHUNK = 65536


@dataclass
class _Trigger:
    """Cut the first connection whose client sends `patterns` in this order."""

    patterns: tuple[bytes, ...]
    forward: bool  # send the matching chunk on before cutting (the server sees it)
    refuse_for: float  # then refuse new connections this long


class _Pipe:
    """One client connection and its upstream socket, pumped by two threads."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = server
        self.closed = threading.Event()
        self.muted = False  # drop the server's answers (a reply lost on the way back)
        self._matched = 0
        self._tail = b""

    def start(self) -> None:
        threading.Thread(
            target=self._pump, args=(self.client, self.server, True), daemon=True
        ).start()
        threading.Thread(
            target=self._pump, args=(self.server, self.client, False), daemon=True
        ).start()

    def _pump(self, source: socket.socket, target: socket.socket, upstream: bool) -> None:
        with contextlib.suppress(OSError):  # a socket cut under the pump ends it
            while not self.closed.is_set():
                chunk = source.recv(_CHUNK)
                if not chunk:
                    break
                if upstream and self._fires(chunk):
                    return
                if not upstream and self.muted:
                    continue
                target.sendall(chunk)
        self.cut()

    def _fires(self, chunk: bytes) -> bool:
        """Match the armed trigger against this stream; on a full match cut (after forwarding)."""
        trigger = self.proxy._trigger
        if trigger is None:
            return False
        window = self._tail + chunk
        position = 0
        while self._matched < len(trigger.patterns):
            found = window.find(trigger.patterns[self._matched], position)
            if found < 0:
                break
            position = found + len(trigger.patterns[self._matched])
            self._matched += 1
        self._tail = window[-64:]
        if self._matched < len(trigger.patterns) or not self.proxy._claim_trigger(trigger):
            return False
        if trigger.forward:
            self.muted = True  # the server gets the bytes, the client never hears back
            with contextlib.suppress(OSError):
                self.server.sendall(chunk)
            time.sleep(0.2)  # let the server act on them before the connection drops
        self.cut()
        if trigger.refuse_for > 0:
            self.proxy.refuse(trigger.refuse_for)
        return True

    def cut(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class FaultProxy:
    """Forwards 127.0.0.1:<port> to `upstream`; breaks connections when told to.

    Attributes:
        fired: set once an armed `cut_on` trigger has cut a connection.
        cuts: how many connections were cut (by `refuse`, `cut_all` or a trigger).
        refused: how many new connections were turned away.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.fired = threading.Event()
        self.cuts = 0
        self.refused = 0
        self._refuse_until = 0.0
        self._trigger: _Trigger | None = None
        self._pipes: list[_Pipe] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @classmethod
    @contextlib.contextmanager
    def in_front_of(cls, database_url: str) -> Iterator[FaultProxy]:
        url = make_url(database_url)
        proxy = cls(url.host or "127.0.0.1", url.port or 5432)
        try:
            yield proxy
        finally:
            proxy.close()

    def url_for(self, database_url: str) -> str:
        """`database_url` with its host and port pointing at this proxy."""
        url = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return url.render_as_string(hide_password=False)

    # --- faults --------------------------------------------------------------------------------

    def refuse(self, seconds: float = float("inf")) -> None:
        """Cut every open connection and turn new ones away for `seconds` (until `allow`)."""
        with self._lock:
            self._refuse_until = time.monotonic() + seconds
        self.cut_all()

    def allow(self) -> None:
        """Accept connections again."""
        with self._lock:
            self._refuse_until = 0.0

    @property
    def refusing(self) -> bool:
        return time.monotonic() < self._refuse_until

    def cut_all(self) -> int:
        with self._lock:
            pipes, self._pipes = self._pipes, []
        for pipe in pipes:
            if not pipe.closed.is_set():
                pipe.cut()
                self.cuts += 1
        return len(pipes)

    def cut_on(self, *patterns: bytes, forward: bool = False, refuse_for: float = 0.0) -> None:
        """Arm a one-shot trigger: cut the first connection whose client sends `patterns` in order.

        With `forward`, the bytes that complete the match reach the server first: cutting on a
        COMMIT that way commits the transaction while the client never hears so. `refuse_for`
        then turns new connections away for that long (a short outage).
        """
        self.fired.clear()
        self._trigger = _Trigger(tuple(patterns), forward, refuse_for)

    def _claim_trigger(self, trigger: _Trigger) -> bool:
        with self._lock:
            if self._trigger is not trigger:
                return False
            self._trigger = None
        self.cuts += 1
        self.fired.set()
        return True

    # --- plumbing ------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing:
                # A reset, as from a server that is not there.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                self.refused += 1
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            pipe = _Pipe(self, client, server)
            with self._lock:
                self._pipes = [p for p in self._pipes if not p.closed.is_set()] + [pipe]
            pipe.start()

    def close(self) -> None:
        self._stopped.set()
        self._listener.close()
        self.cut_all()
