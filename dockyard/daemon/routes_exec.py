"""Exec routes: create, start (hijacked), resize, inspect."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from dockyard.daemon import workers
from dockyard.daemon.errors import bad_request, conflict, not_found
from dockyard.daemon.execproc import ExecConfig, ExecProcess, start_exec
from dockyard.daemon.hijack import Hijacked, hijack
from dockyard.daemon.middleware import Routes, query_int
from dockyard.errors import Conflict
from dockyard.runtime import stream
from dockyard.runtime.state import read_state

routes = Routes()


@dataclass
class ExecInstance:
    id: str
    container_id: str
    config: ExecConfig
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    process: ExecProcess | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)


def _execs(request: web.Request) -> dict[str, ExecInstance]:
    app = request.app
    if "execs" not in app:
        app["execs"] = {}
    return app["execs"]


def _lookup(request: web.Request) -> ExecInstance:
    exec_id = request.match_info["exec_id"]
    instance = _execs(request).get(exec_id)
    if instance is None:
        raise not_found(f"No such exec instance: {exec_id}")
    return instance


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise bad_request(f"invalid JSON: {error}") from None
    return body if isinstance(body, dict) else {}


def _find(name: str) -> tuple[Any, Any, Any]:
    record, directory = workers.engine().containers.find(name)
    return record, directory, read_state(directory)


@routes.post("/containers/{name}/exec")
async def create(request: web.Request) -> web.StreamResponse:
    body = await _body(request)
    record, _directory, state = await workers.run(_find, request.match_info["name"])
    if not state.running:
        raise conflict(f"Container {record.id} is not running")
    command = body.get("Cmd") or []
    if isinstance(command, str):
        command = [command]
    if not command:
        raise bad_request("No exec command specified")
    if body.get("Privileged"):
        raise bad_request("dockyard does not support privileged exec")
    size = body.get("ConsoleSize")
    config = ExecConfig(
        command=list(command),
        tty=bool(body.get("Tty")),
        stdin=bool(body.get("AttachStdin")),
        stdout=bool(body.get("AttachStdout")),
        stderr=bool(body.get("AttachStderr")),
        user=body.get("User") or "",
        workdir=body.get("WorkingDir") or "",
        env=list(body.get("Env") or []),
        detach_keys=body.get("DetachKeys") or "",
        console_size=(int(size[0]), int(size[1])) if size and all(size) else None,
    )
    exec_id = secrets.token_hex(32)
    _execs(request)[exec_id] = ExecInstance(exec_id, record.id, config)
    request.app["events"].publish(
        "container",
        f"exec_create: {' '.join(command)}",
        record.id,
        {"execID": exec_id, "image": record.image_name, "name": record.name},
    )
    return web.json_response({"Id": exec_id}, status=201)


@routes.post("/exec/{exec_id}/start")
async def start(request: web.Request) -> web.StreamResponse:
    instance = _lookup(request)
    body = await _body(request)
    if instance.started:
        raise conflict(f"Error: Exec command {instance.id} has already run")
    detach = bool(body.get("Detach"))
    if "Tty" in body:
        instance.config.tty = bool(body["Tty"])
    size = body.get("ConsoleSize")
    if size and all(size):
        instance.config.console_size = (int(size[0]), int(size[1]))
    record, directory, _state = await workers.run(_find, instance.container_id)
    instance.started = True
    try:
        process = await start_exec(record, directory, instance.config, detach)
    except Conflict as error:
        raise conflict(str(error)) from None
    instance.process = process
    instance.pid = process.pid
    instance.running = True
    request.app["events"].publish(
        "container",
        f"exec_start: {' '.join(instance.config.command)}",
        record.id,
        {"execID": instance.id, "image": record.image_name, "name": record.name},
    )
    if detach:
        asyncio.ensure_future(_run_detached(request, instance, record))
        return web.Response(status=200)
    conn = await hijack(request, multiplexed=not instance.config.tty)
    try:
        if instance.config.tty:
            await _relay_tty(conn, instance)
        else:
            await _relay_pipes(conn, instance)
        await _finish(request, instance, record)
    finally:
        await conn.close()
    return conn.finished()


async def _finish(request: web.Request, instance: ExecInstance, record: Any) -> None:
    assert instance.process is not None
    instance.exit_code = await instance.process.wait()
    instance.process.close()
    instance.running = False
    instance.finished.set()
    request.app["events"].publish(
        "container",
        "exec_die",
        record.id,
        {
            "execID": instance.id,
            "exitCode": str(instance.exit_code),
            "image": record.image_name,
            "name": record.name,
        },
    )


async def _run_detached(request: web.Request, instance: ExecInstance, record: Any) -> None:
    process = instance.process
    assert process is not None
    if process.master is not None:  # keep the pty drained so the process never blocks
        loop = asyncio.get_running_loop()
        master = process.master

        def drain() -> None:
            try:
                if not os.read(master, 65536):
                    loop.remove_reader(master)
            except OSError:
                loop.remove_reader(master)

        loop.add_reader(master, drain)
        await process.wait()
        loop.remove_reader(master)
    await _finish(request, instance, record)


async def _relay_pipes(conn: Hijacked, instance: ExecInstance) -> None:
    process = instance.process
    assert process is not None
    proc = process.proc

    async def pump_out(reader: Any, kind: int) -> None:
        if reader is None:
            return
        while True:
            data = await reader.read(65536)
            if not data:
                return
            try:
                await conn.write(stream.frame(kind, data))
            except (ConnectionError, RuntimeError):
                return

    async def pump_in() -> None:
        if proc.stdin is None:
            return
        try:
            while True:
                data = await conn.reader.read(65536)
                if not data:
                    break
                proc.stdin.write(data)
                await proc.stdin.drain()
        except (ConnectionError, BrokenPipeError, OSError):
            pass
        finally:
            try:
                proc.stdin.close()
            except (ConnectionError, OSError):
                pass

    feeder = asyncio.ensure_future(pump_in())
    await asyncio.gather(pump_out(proc.stdout, stream.STDOUT), pump_out(proc.stderr, stream.STDERR))
    await proc.wait()
    feeder.cancel()


async def _relay_tty(conn: Hijacked, instance: ExecInstance) -> None:
    process = instance.process
    assert process is not None and process.master is not None
    master = process.master
    loop = asyncio.get_running_loop()
    output: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(master, 65536)
        except BlockingIOError:
            return
        except OSError as error:  # EIO: the last slave closed
            data = b"" if error.errno == errno.EIO else b""
        if not data:
            loop.remove_reader(master)
        output.put_nowait(data)

    loop.add_reader(master, readable)

    async def pump_in() -> None:
        try:
            while True:
                data = await conn.reader.read(65536)
                if not data:
                    return
                view = memoryview(data)
                while view:
                    try:
                        written = os.write(master, view)
                    except BlockingIOError:
                        await asyncio.sleep(0.01)
                        continue
                    view = view[written:]
        except (ConnectionError, OSError):
            pass

    feeder = asyncio.ensure_future(pump_in())
    waiter = asyncio.ensure_future(process.proc.wait())
    try:
        while True:
            getter = asyncio.ensure_future(output.get())
            done, _ = await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                data = getter.result()
                if not data:
                    break
                try:
                    await conn.write(data)
                except (ConnectionError, RuntimeError):
                    break
            else:
                getter.cancel()
                # the runtime is gone: what is left in the pty, then the end
                while True:
                    try:
                        data = os.read(master, 65536)
                    except OSError:
                        break
                    if not data:
                        break
                    try:
                        await conn.write(data)
                    except (ConnectionError, RuntimeError):
                        break
                while not output.empty():
                    data = output.get_nowait()
                    if data:
                        try:
                            await conn.write(data)
                        except (ConnectionError, RuntimeError):
                            break
                break
    finally:
        loop.remove_reader(master)
        feeder.cancel()


@routes.post("/exec/{exec_id}/resize")
async def resize(request: web.Request) -> web.StreamResponse:
    instance = _lookup(request)
    height = query_int(request, "h", 0) or 0
    width = query_int(request, "w", 0) or 0
    if instance.process is not None and height > 0 and width > 0:
        try:
            instance.process.resize(height, width)
        except OSError:
            pass
    return web.Response(status=200)


@routes.get("/exec/{exec_id}/json")
async def inspect(request: web.Request) -> web.StreamResponse:
    instance = _lookup(request)
    config = instance.config
    return web.json_response(
        {
            "ID": instance.id,
            "Running": instance.running,
            "ExitCode": instance.exit_code,
            "ProcessConfig": {
                "tty": config.tty,
                "entrypoint": config.command[0],
                "arguments": config.command[1:],
                "privileged": False,
                "user": config.user,
            },
            "OpenStdin": config.stdin,
            "OpenStderr": config.stderr,
            "OpenStdout": config.stdout,
            "CanRemove": False,
            "ContainerID": instance.container_id,
            "DetachKeys": config.detach_keys,
            "Pid": instance.pid,
        }
    )
