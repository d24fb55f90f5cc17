"""How blobs reach clients: large blobs to a client on this machine are copied by a
thread (not sendfile), whatever the registry served before; nothing is left behind
(threads, descriptors, per-session upload state) by finished, cut or abandoned work."""

from __future__ import annotations

import asyncio
import os
import socket
import threading

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dockyard.registry import blobsend
from dockyard.registry.app import make_app
from dockyard.registry.blobsend import LocalCopySender, copy_to_socket, is_local_address
from dockyard.registry.config import RegistryConfig
from dockyard.registry.state import RegistryState
from tests.registry.pushing import OCI_MANIFEST, digest_of, image_manifest

MIB = 1 << 20


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def _receive_all(sock: socket.socket, into: bytearray) -> None:
    while chunk := sock.recv(1 << 20):
        into += chunk


@pytest.mark.parametrize(
    "peer, local, expected",
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("127.8.9.10", "127.0.0.1", True),
        ("::1", "::1", True),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1", True),
        ("10.1.2.3", "10.1.2.3", True),  # this host's own address: looped back by the kernel
        ("fe80::1%eth0", "fe80::1%eth0", True),
        ("10.1.2.4", "10.1.2.3", False),
        ("192.0.2.1", "0.0.0.0", False),
        ("2001:db8::1", "2001:db8::2", False),
        ("not-an-address", "127.0.0.1", False),
    ],
)
def test_which_clients_are_on_this_machine(peer, local, expected):
    assert is_local_address(peer, local) is expected


def test_copy_to_socket_sends_the_range_across_map_windows_and_closes_its_descriptors(
    tmp_path,
):
    data = os.urandom(blobsend.MAP_WINDOW + 3 * MIB)
    path = tmp_path / "blob"
    path.write_bytes(data)
    offset, count = 12_345, len(data) - 12_345 - 777  # neither end on a page boundary
    sender, receiver = socket.socketpair()
    sender.setblocking(False)
    received = bytearray()
    reader = threading.Thread(target=_receive_all, args=(receiver, received))
    reader.start()
    sock_fd, file_fd = os.dup(sender.fileno()), os.open(path, os.O_RDONLY)
    copy_to_socket(sock_fd, file_fd, offset, count, threading.Event())
    sender.close()
    reader.join()
    receiver.close()
    assert bytes(received) == data[offset : offset + count]
    assert _closed(sock_fd) and _closed(file_fd)


def test_copy_to_socket_refuses_a_short_file_and_stops_when_told(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(2 * MIB))
    sender, receiver = socket.socketpair()
    sender.setblocking(False)
    sock_fd, file_fd = os.dup(sender.fileno()), os.open(path, os.O_RDONLY)
    with pytest.raises(ConnectionResetError, match="shorter"):
        copy_to_socket(sock_fd, file_fd, 0, 3 * MIB, threading.Event())
    assert _closed(sock_fd) and _closed(file_fd)

    # a client that reads nothing: the copy waits on the full socket until stopped
    stop = threading.Event()
    errors: list[BaseException] = []
    sock_fd, file_fd = os.dup(sender.fileno()), os.open(path, os.O_RDONLY)

    def copy() -> None:
        try:
            copy_to_socket(sock_fd, file_fd, 0, 2 * MIB, stop)
        except BaseException as error:  # noqa: BLE001 - inspected below
            errors.append(error)

    worker = threading.Thread(target=copy)
    worker.start()
    stop.set()
    worker.join(60)
    sender.close()
    receiver.close()
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], ConnectionResetError)
    assert _closed(sock_fd) and _closed(file_fd)


async def _upload(http: aiohttp.ClientSession, base: str, repo: str, data: bytes) -> str:
    """Chunked, as the conformance suites push: POST, two PATCHes, PUT ?digest=."""
    async with http.post(f"{base}/v2/{repo}/blobs/uploads/") as reply:
        location = base + reply.headers["Location"]
    half = len(data) // 2
    for start, end in ((0, half), (half, len(data))):
        headers = {"Content-Range": f"{start}-{end - 1}"}
        async with http.patch(location, data=data[start:end], headers=headers) as reply:
            assert reply.status == 202
    async with http.put(f"{location}?digest={digest_of(data)}") as reply:
        assert reply.status == 201
    return digest_of(data)


async def _conformance_like(http: aiohttp.ClientSession, base: str, repositories: int) -> None:
    """What the OCI conformance suites leave behind: pushed images, reads, a deleted
    blob, and upload sessions never finished (some holding data)."""
    for number in range(repositories):
        repo = f"conformance/r{number}"
        layers = [os.urandom(1000 + number) for _ in range(2)]
        config = b'{"n": %d}' % number
        for blob in (*layers, config):
            await _upload(http, base, repo, blob)
        manifest = image_manifest(config, layers)
        headers = {"Content-Type": OCI_MANIFEST}
        async with http.put(f"{base}/v2/{repo}/manifests/v1", data=manifest, headers=headers):
            pass
        async with http.get(f"{base}/v2/{repo}/tags/list") as reply:
            assert reply.status == 200
        async with http.get(f"{base}/v2/{repo}/blobs/{digest_of(layers[0])}") as reply:
            assert await reply.read() == layers[0]
        async with http.delete(f"{base}/v2/{repo}/blobs/{digest_of(layers[1])}") as reply:
            assert reply.status == 202
        for left in range(2):
            async with http.post(f"{base}/v2/{repo}/blobs/uploads/") as reply:
                location = base + reply.headers["Location"]
            if left:
                async with http.patch(location, data=os.urandom(1 << 16)) as reply:
                    assert reply.status == 202


async def _until_idle(state: RegistryState) -> None:
    """Wait until no copy runs (the last bytes reach the client before the server's
    handler hears that its thread is done); fails if one never ends."""
    for _ in range(600):
        if state.blob_sender.busy == 0:
            return
        await asyncio.sleep(0.05)
    assert state.blob_sender.busy == 0


def _serve(tmp_path, scenario, sender: LocalCopySender | None = None) -> RegistryState:
    config = RegistryConfig(storage=str(tmp_path / "registry"))
    state = RegistryState(config)
    if sender is not None:
        state.blob_sender = sender

    async def run() -> None:
        server = TestServer(make_app(config, state), host="127.0.0.1")
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as http:
                await scenario(http, f"http://127.0.0.1:{server.port}", state)
            await state.drain()
        finally:
            await server.close()

    asyncio.run(run())
    return state


def test_large_blobs_to_a_local_client_are_copied_after_a_conformance_like_warm_up(tmp_path):
    big = os.urandom(5 * MIB + 17)
    small = os.urandom(64 * 1024)

    async def scenario(http: aiohttp.ClientSession, base: str, state: RegistryState) -> None:
        big_digest = await _upload(http, base, "bench/big", big)
        small_digest = await _upload(http, base, "bench/big", small)
        url = f"{base}/v2/bench/big/blobs/{big_digest}"
        async with http.get(url) as reply:
            assert reply.status == 200 and await reply.read() == big
        assert state.blob_sender.copies == 1  # loopback, large: the thread copied it
        await _conformance_like(http, base, 30)
        assert state.uploads.sessions_in_use == 0  # abandoned sessions hold nothing here
        for _ in range(3):
            async with http.get(url) as reply:
                assert reply.status == 200 and await reply.read() == big
        async with http.get(url, headers={"Range": f"bytes=1000-{len(big) - 5}"}) as reply:
            assert reply.status == 206 and await reply.read() == big[1000 : len(big) - 4]
        assert state.blob_sender.copies == 5  # still the copy, however long it served
        async with http.get(f"{base}/v2/bench/big/blobs/{small_digest}") as reply:
            assert await reply.read() == small
        async with http.head(url) as reply:
            assert reply.status == 200 and int(reply.headers["Content-Length"]) == len(big)
        assert state.blob_sender.copies == 5  # small blobs and HEAD: sendfile / headers
        await _until_idle(state)

    state = _serve(tmp_path, scenario)
    assert state.uploads.sessions_in_use == 0 and state.blob_sender.busy == 0


def test_without_a_free_copy_thread_blobs_go_by_sendfile(tmp_path):
    big = os.urandom(3 * MIB)

    async def scenario(http: aiohttp.ClientSession, base: str, state: RegistryState) -> None:
        digest = await _upload(http, base, "full/pool", big)
        async with http.get(f"{base}/v2/full/pool/blobs/{digest}") as reply:
            assert reply.status == 200 and await reply.read() == big
        async with http.get(
            f"{base}/v2/full/pool/blobs/{digest}", headers={"Range": "bytes=-1048577"}
        ) as reply:
            assert reply.status == 206 and await reply.read() == big[-1048577:]

    state = _serve(tmp_path, scenario, sender=LocalCopySender(threads=0))
    assert state.blob_sender.copies == 0


def test_a_client_leaving_mid_download_leaves_no_copy_running(tmp_path):
    big = os.urandom(64 * MIB)

    async def scenario(http: aiohttp.ClientSession, base: str, state: RegistryState) -> None:
        digest = await _upload(http, base, "cut/short", big)
        for _ in range(3):
            reply = await http.get(f"{base}/v2/cut/short/blobs/{digest}")
            assert reply.status == 200
            assert len(await reply.content.read(MIB)) > 0
            assert state.blob_sender.busy == 1
            reply.close()  # drops the connection with most of the blob unsent
            await _until_idle(state)  # the server notices on its next write
        async with http.get(f"{base}/v2/cut/short/blobs/{digest}") as reply:
            assert await reply.read() == big
        assert state.blob_sender.copies == 4

    _serve(tmp_path, scenario)
