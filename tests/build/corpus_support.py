"""The Dockerfile corpus: preparing a case's context, summarising a built image, masking.

Used by the corpus test (dockyard's side) and by record_reference.py (Docker's side), so
that both sides are prepared and summarised by the same code.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
REFERENCE = HERE / "reference"
FIXED_MTIME = 1686355200  # the busybox base's mtime


def case_names() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if (p / "Dockerfile").exists())


def case_spec(name: str) -> dict[str, Any]:
    path = CORPUS / name / "build.json"
    return json.loads(path.read_text()) if path.exists() else {}


def build_flags(name: str) -> list[str]:
    """The `build` flags of a case (the same for docker and dockyard). --no-cache: cases
    sharing a first step must not depend on the order they run in (the cache has tests
    of its own)."""
    spec = case_spec(name)
    flags: list[str] = ["--no-cache"]
    for key, value in sorted(spec.get("build_args", {}).items()):
        flags += ["--build-arg", f"{key}={value}"]
    if spec.get("target"):
        flags += ["--target", spec["target"]]
    for key, value in sorted(spec.get("labels", {}).items()):
        flags += ["--label", f"{key}={value}"]
    return flags


@contextlib.contextmanager
def http_files(name: str) -> Iterator[None]:
    """Serve a case's "http" files on loopback while it builds (ADD of a URL)."""
    spec = case_spec(name).get("http")
    if not spec:
        yield
        return
    import http.server
    import threading

    files = {f"/{k}": v.encode() for k, v in spec.get("files", {}).items()}
    files.update({f"/{k}": _archive_bytes(v) for k, v in spec.get("archives", {}).items()})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Last-Modified", "Sat, 10 Jun 2023 00:00:00 GMT")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", spec["port"]), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def stdin_tar(name: str, context: Path) -> bytes | None:
    """The context as a tar for `build -` when the case asks for one, its entries with
    the owner and user/group names the case gives (a tar context keeps them)."""
    spec = case_spec(name).get("stdin_tar")
    if not spec:
        return None

    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid, info.gid = spec["uid"], spec["gid"]
        info.uname, info.gname = spec["uname"], spec["gname"]
        info.mtime = FIXED_MTIME
        return info

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(context.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(context)), recursive=False, filter=owner)
    return raw.getvalue()


def _archive_bytes(kind: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data, mode, owner in (
            ("arch", None, 0o755, 0),
            ("arch/f.txt", b"in the archive\n", 0o640, 1),
            ("arch/sub", None, 0o750, 2),
            ("arch/sub/g", b"g\n", 0o600, 0),
        ):
            info = tarfile.TarInfo(path)
            info.mtime = FIXED_MTIME
            info.mode = mode
            info.uid = info.gid = owner
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    if kind == "gz":
        return gzip.compress(data, mtime=0)
    if kind == "bz2":
        return bz2.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    return data


def prepare_context(name: str, dest: Path) -> Path:
    """Copy a case into dest with fixed modes and mtimes; generated archives added."""
    source = CORPUS / name
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns("build.json"))
    for root, dirs, files in os.walk(dest):
        for entry in dirs + files:
            path = os.path.join(root, entry)
            if os.path.islink(path):
                continue
            os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
    spec = case_spec(name)
    for filename, kind in spec.get("archives", {}).items():
        (dest / filename).write_bytes(_archive_bytes(kind))
    for filename, text in spec.get("gzip", {}).items():
        (dest / filename).write_bytes(gzip.compress(text.encode(), mtime=0))
    for filename, mode in spec.get("modes", {}).items():
        os.chmod(dest / filename, int(mode, 8))
    for root, dirs, files in os.walk(dest):
        for entry in dirs + files:
            os.utime(os.path.join(root, entry), (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
    os.utime(dest, (FIXED_MTIME, FIXED_MTIME))
    return dest


# ---------------------------------------------------------------- image summaries


def _entry(member: tarfile.TarInfo, data: bytes | None) -> str:
    kind = {tarfile.DIRTYPE: "d", tarfile.SYMTYPE: "l"}.get(member.type, "f")
    if member.isreg():
        kind = "f"
    detail = ""
    if member.issym():
        detail = member.linkname
    elif data is not None:
        detail = hashlib.sha256(data).hexdigest()[:16]
    return f"{kind} {stat.S_IMODE(member.mode):04o} {member.uid}:{member.gid} {detail}".rstrip()


def apply_layer(tree: dict[str, str], layer: tarfile.TarFile) -> None:
    """Apply one layer tar (with overlay whiteouts) to a path -> entry map."""
    for member in layer:
        path = "/" + member.name.strip("/").removeprefix("./")
        if path == "/.":
            path = "/"
        base = os.path.basename(path)
        parent = os.path.dirname(path)
        if base == ".wh..wh..opq":
            for key in [k for k in tree if k.startswith(parent.rstrip("/") + "/")]:
                del tree[key]
            continue
        if base.startswith(".wh."):
            gone = os.path.join(parent, base[4:])
            for key in [k for k in tree if k == gone or k.startswith(gone + "/")]:
                del tree[key]
            continue
        if member.islnk():
            target = "/" + member.linkname.strip("/")
            tree[path] = tree.get(target, "f ?")
            continue
        data = None
        if member.isreg():
            extracted = layer.extractfile(member)
            data = extracted.read() if extracted else b""
        if not member.isdir() and path in tree:
            for key in [k for k in tree if k.startswith(path + "/")]:
                del tree[key]
        tree[path] = _entry(member, data)


def tree_of_tar(path: Path) -> dict[str, str]:
    tree: dict[str, str] = {}
    with tarfile.open(path) as tar:
        apply_layer(tree, tar)
    return tree


def summarise_archive(archive: Path, base_tree: dict[str, str]) -> dict[str, Any]:
    """Config, layer count, history and file-tree changes of the (only) image in a
    `save` archive; the tree as differences from the base image's tree."""
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        entry = manifest[0]
        config = json.load(outer.extractfile(entry["Config"]))  # type: ignore[arg-type]
        tree: dict[str, str] = {}
        for layer_name in entry["Layers"]:
            blob = outer.extractfile(layer_name)
            assert blob is not None
            with tarfile.open(fileobj=io.BytesIO(blob.read())) as layer:
                apply_layer(tree, layer)
    changes = {path: value for path, value in tree.items() if base_tree.get(path) != value}
    removed = sorted(path for path in base_tree if path not in tree)
    return {
        "config": mask_config(config.get("config") or {}),
        "container_config": mask_config(config.get("container_config") or {}),
        "author": config.get("author", ""),
        "layers": len(config.get("rootfs", {}).get("diff_ids") or []),
        "history": [
            {
                "created_by": mask_text(h.get("created_by", "")),
                "empty_layer": bool(h.get("empty_layer")),
                **({"author": h["author"]} if h.get("author") else {}),
            }
            for h in config.get("history") or []
        ],
        "tree_changes": dict(sorted(changes.items())),
        "tree_removed": removed,
    }


def mask_config(config: dict[str, Any]) -> dict[str, Any]:
    """Hostname (the build container's ID) and Image (a parent image ID) differ by nature."""
    masked = dict(config)
    for key in ("Hostname", "Image"):
        if masked.get(key):
            masked[key] = "<masked>"
    return masked


_HEX_ID = re.compile(r"\b[0-9a-f]{12}\b|\b[0-9a-f]{64}\b")


def mask_text(text: str) -> str:
    return text


def mask_output(text: str) -> str:
    """Build output with image/container IDs and the context size masked."""
    text = re.sub(r"sha256:[0-9a-f]{64}", "sha256:<id>", text)
    text = _HEX_ID.sub("<id>", text)
    text = re.sub(r"Sending build context to Docker daemon\s+\S+", "Sending build context", text)
    return text
