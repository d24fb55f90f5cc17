"""Copying a blob file to a client on this machine from a worker thread.

``sendfile`` hands the kernel references to the file's pages: the server copies nothing
and the client's ``recv`` copies out of those page references. Over a network card that
is the right trade. When the client runs on this machine (loopback, or this host's own
address) receiving such buffers is the slowest step of the download, and it falls on the
client's core alone: measured here on a 256 MiB blob over loopback, curl spent 0.12-0.13 s
of system time receiving it from ``sendfile``, against 0.05-0.06 s from the CNCF registry,
which writes the file through ordinary socket buffers (and still 0.13 s when the server
read each piece just before handing it to ``sendfile``: what costs is the shape of the
buffers, not a cold cache). Writing the bytes costs the server one copy and halves the
client's work, and the two copies run side by side on two cores.

So for a local, plain-HTTP client a large blob is written from the file's mapping in
``COPY_CHUNK`` pieces by a thread of a small pool (``LocalCopySender``); the event loop
only waits. Smaller blobs, TLS connections, remote clients and downloads beyond the
pool's threads keep ``loop.sendfile``. The thread works on duplicates of the socket's and
the file's descriptors, so whatever the event loop does with the originals meanwhile
(closing the connection at shutdown, a cancelled handler) it never writes to a
descriptor number that now names something else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import mmap
import os
import select
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

COPY_CHUNK = 1 << 20  # a piece the client copies while the next one is written (256 KiB: 1.4x slower)
MAP_WINDOW = 8 << 20
MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
COPY_MIN = 1 << 20  # below this the receiver's copy is too short to matter: sendfile
COPY_THREADS = 8
POLL_SLICE_MS = 500  # how often a thread waiting for the client looks at its stop flag


def is_local_peer(transport: asyncio.BaseTransport) -> bool:
    """Whether the client of a plain (not TLS) TCP connection runs on this machine."""
    if transport.get_extra_info("sslcontext") is not None:
        return False
    peer = transport.get_extra_info("peername")
    local = transport.get_extra_info("sockname")
    if not isinstance(peer, tuple) or not isinstance(local, tuple) or not peer or not local:
        return False
    return is_local_address(str(peer[0]), str(local[0]))


def is_local_address(peer: str, local: str) -> bool:
    """Whether a client at ``peer`` that reached this server at ``local`` is on this
    machine: a loopback address, or this host's own address (the kernel loops it back)."""
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or peer == local


def copy_to_socket(
    sock_fd: int, file_fd: int, offset: int, count: int, stop: threading.Event
) -> None:
    """Write ``count`` bytes of ``file_fd`` from ``offset`` to the non-blocking socket
    ``sock_fd``; closes both descriptors. Raises ConnectionResetError when the file is
    shorter or ``stop`` is set, OSError when the client goes away.

    The bytes go from the file's mapping straight into the socket (``write`` copies them
    once, in the kernel: the server never reads them itself, so a page that cannot be
    read is an error of ``write``, never a signal)."""
    try:
        if os.fstat(file_fd).st_size < offset + count:
            raise ConnectionResetError("blob shorter than recorded")
        poller = select.poll()
        poller.register(sock_fd, select.POLLOUT)
        end = offset + count
        while offset < end:
            base = offset - offset % mmap.ALLOCATIONGRANULARITY
            length = min(MAP_WINDOW, end - base)
            with mmap.mmap(
                file_fd, length, flags=MAP_FLAGS, prot=mmap.PROT_READ, offset=base
            ) as mapped:
                with memoryview(mapped) as window:
                    _write_all(sock_fd, window, offset - base, poller, stop)
            offset = base + length
    finally:
        os.close(sock_fd)
        os.close(file_fd)


def _write_all(
    sock_fd: int, window: memoryview, start: int, poller: select.poll, stop: threading.Event
) -> None:
    """Write ``window[start:]`` in ``COPY_CHUNK`` pieces, waiting while the socket is full."""
    while start < len(window):
        if stop.is_set():
            raise ConnectionResetError("blob download stopped")
        try:
            start += os.write(sock_fd, window[start : start + COPY_CHUNK])
        except BlockingIOError:
            poller.poll(POLL_SLICE_MS)  # an error or hang-up: the next write raises


def _closer_if_never_run(*fds: int) -> Callable[[Future], None]:
    """A done-callback that closes the descriptors of a copy cancelled before it ran."""

    def close(job: Future) -> None:
        if job.cancelled():
            for fd in fds:
                os.close(fd)

    return close


class LocalCopySender:
    """At most ``threads`` blob copies to local clients at once (one thread each)."""

    def __init__(self, threads: int = COPY_THREADS) -> None:
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._running: set[threading.Event] = set()
        self.copies = 0  # downloads handed to a thread

    @property
    def busy(self) -> int:
        return len(self._running)

    def wanted(self, transport: asyncio.BaseTransport, count: int) -> bool:
        """Whether to copy these bytes in a thread (else: sendfile on the event loop)."""
        if count < COPY_MIN or len(self._running) >= self.threads:
            return False
        if transport.is_closing() or transport.get_extra_info("socket") is None:
            return False
        if transport.get_write_buffer_size():  # type: ignore[attr-defined]
            return False  # headers still queued in the transport: they must go first
        return is_local_peer(transport)

    async def send(
        self, transport: asyncio.WriteTransport, fileno: int, offset: int, count: int
    ) -> None:
        """Copy the bytes in a thread while the transport neither reads nor writes."""
        sock = transport.get_extra_info("socket")
        loop = asyncio.get_running_loop()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="blob-copy")
        stop = threading.Event()
        sock_fd = os.dup(sock.fileno())
        try:
            file_fd = os.dup(fileno)
        except OSError:
            os.close(sock_fd)
            raise
        resume_reading = transport.is_reading()  # type: ignore[attr-defined]
        transport.pause_reading()  # type: ignore[attr-defined]
        self._running.add(stop)
        try:
            try:
                job = self._pool.submit(copy_to_socket, sock_fd, file_fd, offset, count, stop)
            except BaseException:
                os.close(sock_fd)
                os.close(file_fd)
                raise
            job.add_done_callback(_closer_if_never_run(sock_fd, file_fd))
            self.copies += 1
            await asyncio.wrap_future(job, loop=loop)
        finally:
            stop.set()  # a cancelled wait: the thread ends at its next piece or poll
            self._running.discard(stop)
            if resume_reading and not transport.is_closing():
                transport.resume_reading()  # type: ignore[attr-defined]

    def close(self) -> None:
        """Stop every copy and let the threads end (at shutdown)."""
        for stop in list(self._running):
            stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
