"""A TCP proxy between the service and PostgreSQL that loses a connection exactly at COMMIT.

It reads the wire protocol only as far as it must: the server's CommandComplete tags tell it
that a transaction has inserted rows (``INSERT 0 n``) and that it has committed (``COMMIT``).

- ``cut("before")``: the next COMMIT a client sends in a transaction that inserted never reaches
  the server; the connection is closed. The server rolls the transaction back.
- ``cut("after")``: the server's answer to the next such COMMIT never reaches the client; the
  connection is closed. The transaction is committed, the client cannot know it.

``down()`` closes every connection and refuses new ones (the database is away) until ``up()``;
``cut(mode, then_down=True)`` goes down at the moment of the cut.
Every socket operation runs in daemon threads with bounded waits; ``close()`` ends them all.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

COMMIT_SENT = b"COMMIT\x00"  # the statement's text, null-terminated (Query or Parse message)
COMMIT_DONE = b"C\x00\x00\x00\x0bCOMMIT\x00"  # CommandComplete, tag "COMMIT"
INSERTED = b"INSERT 0 "  # CommandComplete of an INSERT
ENDED = (b"COMMIT\x00", b"ROLLBACK\x00")


@dataclass(eq=False)
class Link:
    client: socket.socket
    server: socket.socket
    inserted: bool = False  # the open transaction has inserted rows

    def close(self) -> None:
        for end in (self.client, self.server):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                end.close()


@dataclass(eq=False)
class FaultProxy:
    target: tuple[str, int]
    mode: str | None = None
    down_at_cut: bool = False
    refusing: bool = False
    cuts: int = 0
    links: set[Link] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    listener: socket.socket = field(init=False)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def cut(self, mode: str, then_down: bool = False) -> None:
        assert mode in ("before", "after")
        with self.lock:
            self.mode, self.down_at_cut = mode, then_down

    def down(self) -> None:
        with self.lock:
            self.refusing = True
            links, self.links = self.links, set()
        for link in links:
            link.close()

    def up(self) -> None:
        with self.lock:
            self.refusing = False

    def close(self) -> None:
        self.stopped.set()
        self.down()
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            if self.refusing:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            link = Link(client, server)
            with self.lock:
                self.links.add(link)
            threading.Thread(target=self._pump, args=(link, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(link, False), daemon=True).start()

    def _pump(self, link: Link, upstream: bool) -> None:
        source, sink = (link.client, link.server) if upstream else (link.server, link.client)
        try:
            while chunk := source.recv(65536):
                if self._cuts_here(link, chunk, upstream):
                    link.close()
                    if self.down_at_cut:
                        self.down()
                    return
                sink.sendall(chunk)
        except OSError:
            pass
        link.close()

    def _cuts_here(self, link: Link, chunk: bytes, upstream: bool) -> bool:
        with self.lock:
            if not upstream and INSERTED in chunk:
                link.inserted = True
            wanted = COMMIT_SENT if upstream else COMMIT_DONE
            armed = self.mode == ("before" if upstream else "after")
            if armed and link.inserted and wanted in chunk:
                self.mode, self.cuts = None, self.cuts + 1
                return True
            if not upstream and any(tag in chunk for tag in ENDED):
                link.inserted = False
            return False
