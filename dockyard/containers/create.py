"""`create`: a container record, its directory and its rootfs layers (not started)."""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.containers import record as records
from dockyard.containers.hostconfig import container_config, host_config
from dockyard.containers.names import check_name, random_name
from dockyard.datarecord import dataclass, field
from dockyard.errors import Conflict, DockyardError, InvalidArgument
from dockyard.runtime import etcfiles, rootfs, seccomp
from dockyard.runtime.state import ContainerState, write_state
from dockyard.store import Store
from dockyard.timeutil import now_rfc3339


@dataclass
class CreateOptions:
    image: str
    command: list[str] = field(default_factory=list)
    entrypoint: str | None = None
    name: str | None = None
    env: list[str] = field(default_factory=list)
    env_files: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    network: str = "none"
    volumes: list[str] = field(default_factory=list)
    read_only: bool = False
    init: bool = False
    tty: bool = False
    interactive: bool = False
    attach: bool = False  # run in the foreground (run without -d)
    auto_remove: bool = False
    runtime: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    security_opt: list[str] = field(default_factory=list)  # seccomp=unconfined|PROFILE, ...


def container_dir(store: Store, cid: str) -> Path:
    return store.containers_dir / cid


def _env_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as src:
            lines = src.read().splitlines()
    except OSError as error:
        raise InvalidArgument(f"open {path}: {error.strerror.lower()}") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def merge_env(image_env: list[str], extra: list[str]) -> list[str]:
    """Image Env overridden by -e/--env-file; `-e NAME` copies the caller's value (or drops)."""
    env = list(image_env)
    for item in extra:
        if "=" not in item:
            if item not in os.environ:
                continue
            item = f"{item}={os.environ[item]}"
        key = item.split("=", 1)[0]
        if not key:
            raise InvalidArgument(f"invalid environment variable: {item}")
        env = [e for e in env if e.split("=", 1)[0] != key]
        env.append(item)
    return env


def _binds(volumes: list[str]) -> list[str]:
    binds = []
    for spec in volumes:
        parts = spec.split(":")
        if len(parts) < 2 or len(parts) > 3 or not parts[1]:
            raise InvalidArgument(f"invalid spec: {spec}: invalid volume specification")
        source, target = parts[0], parts[1]
        if not source.startswith("/"):
            raise InvalidArgument(
                f"invalid volume {spec}: named volumes are not supported; use an absolute host path"
            )
        if not target.startswith("/"):
            raise InvalidArgument(
                f"invalid volume specification: '{spec}': invalid mount config for type \"bind\": invalid mount path: '{target}' mount path must be absolute"
            )
        if len(parts) == 3 and not set(parts[2].split(",")) <= {"ro", "rw", "z", "Z"}:
            raise InvalidArgument(f"invalid mode: {parts[2]}")
        Path(source).mkdir(parents=True, exist_ok=True)
        binds.append(spec)
    return binds


def _config(opts: CreateOptions, image_config: dict, cid: str) -> dict:
    env = merge_env(
        image_config.get("Env") or [], [i for f in opts.env_files for i in _env_file(f)] + opts.env
    )
    if opts.entrypoint is not None:
        entrypoint = [opts.entrypoint] if opts.entrypoint else None
        cmd = list(opts.command) or None
    else:
        entrypoint = image_config.get("Entrypoint")
        cmd = list(opts.command) or image_config.get("Cmd")
    workdir = opts.workdir if opts.workdir is not None else image_config.get("WorkingDir") or ""
    if workdir and not workdir.startswith("/"):
        raise InvalidArgument(
            f"the working directory '{workdir}' is invalid, it needs to be an absolute path"
        )
    labels = dict(image_config.get("Labels") or {})
    labels.update(opts.labels)
    foreground = opts.attach
    return container_config(
        {
            "Hostname": opts.hostname or cid[:12],
            "User": opts.user if opts.user is not None else image_config.get("User") or "",
            "AttachStdin": foreground and opts.interactive,
            "AttachStdout": foreground,
            "AttachStderr": foreground,
            "ExposedPorts": image_config.get("ExposedPorts"),
            "Tty": opts.tty,
            "OpenStdin": opts.interactive,
            "StdinOnce": foreground and opts.interactive,
            "Env": env,
            "Cmd": cmd,
            "Image": opts.image,
            "Volumes": image_config.get("Volumes"),
            "WorkingDir": workdir,
            "Entrypoint": entrypoint,
            "OnBuild": image_config.get("OnBuild"),
            "Labels": labels,
            "StopSignal": image_config.get("StopSignal"),
        }
    )


def create_container(store: Store, opts: CreateOptions) -> records.ContainerRecord:
    from dockyard.imageops.resolve import resolve_image_id
    from dockyard.runtime.ocirt import get_runtime

    image_id = resolve_image_id(store, opts.image)
    image = store.image(image_id)
    runtime = get_runtime(opts.runtime)
    if opts.network not in ("none", "host"):
        raise InvalidArgument(f"network {opts.network} not found (dockyard supports none and host)")
    cid = os.urandom(32).hex()  # what secrets.token_hex(32) does, without importing secrets
    config = _config(opts, image.config.config, cid)
    command = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
    if not command:
        raise InvalidArgument("No command specified")
    binds = _binds(opts.volumes)
    try:
        security_opt = seccomp.parse_security_opts(opts.security_opt)
    except seccomp.ProfileError as error:
        raise InvalidArgument(str(error)) from None
    name = check_name(opts.name) if opts.name else None
    for attempt in range(10):
        try:
            store.add_container(cid, name or random_name(attempt), image_id, opts.image)
            break
        except Conflict:
            if name is not None or attempt == 9:
                raise
    row = store.find_container(cid)
    directory = container_dir(store, cid)
    try:
        directory.mkdir(mode=0o710)
        layer_dirs = store.layer_dirs(image_id)
        rootfs.prepare(directory, layer_dirs)
        record = records.ContainerRecord(
            id=cid,
            name=row.name,
            created=now_rfc3339(),
            path=command[0],
            args=command[1:],
            config=config,
            host_config=host_config(
                network=opts.network,
                binds=binds,
                auto_remove=opts.auto_remove,
                read_only=opts.read_only,
                runtime=runtime.name,
                init=opts.init or None,
                security_opt=security_opt,
            ),
            image=str(image_id),
            image_name=opts.image,
            layer_chain=[str(p) for p in layer_dirs],
        )
        etcfiles.write_all(directory, config["Hostname"], opts.network)
        (directory / f"{cid}-json.log").touch(mode=0o640)
        write_state(directory, ContainerState())
        records.save(directory, record)
    except (OSError, DockyardError):
        import shutil

        store.remove_container(cid)
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return record
