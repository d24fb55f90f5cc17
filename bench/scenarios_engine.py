"""Engine scenarios: dockyard, Docker and Podman, each its own CLI, side by side."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import archives, daemon_api, harness, scenarios_pull
from bench.harness import Context
from bench.peers import REPO, Docker, Engine

TEN = "bench/ten:latest"
COMMITTED = "bench/commit:latest"
IMPORTED = "bench/imported:latest"
DEBIAN = "debian:bookworm"


# What the profiles show stands in the way when a target is missed (docs/bench.md has
# the profiles); the report prints the matching text next to a missed target.
WHY_RUN = (
    "each command is a fresh Python process: interpreter ~20 ms and imports ~50 ms before "
    "any work, then crun's run --detach and delete (~26 ms) and the monitor's fork"
)
WHY_COMMIT = (
    "three passes over the 100 MB (sha256, the kept tar blob, the layer copy) at this VM's "
    "~1.5 GB/s tmpfs write speed; Docker keeps no tar and writes the layer once"
)
WHY_EXTRACTING = (
    "the layer is written once now (a ~5 MB tar-split record instead of a second 121 MB "
    "copy); what is left: the kernel's creation of 6,600 files and 121 MB (GNU tar alone: "
    "~0.11-0.14 s of CPU), start-up and imports (~40-50 ms of the main thread's CPU, asyncio no more), "
    "~16 us of Python and libarchive per entry, the diff-ID sha256 on a second thread"
)
WHY_EXTRACT = (
    "about 50 us of Python per entry (6,600 entries) on top of the same kernel work; "
    "libarchive's own disk writer measured slower and sets the umask process-wide"
)


def extracting_target(ctx: Context) -> tuple[str, float, str, str]:
    """load / import (absent): 0.2x Docker on tmpfs; on disk, where both are the kernel's
    file creation, 1.0x GNU tar extracting the same layer in the same run."""
    if ctx.variant == "disk":
        return ("GNU tar", 1.0, "≤ 1.0x GNU tar (same layer, same disk)", WHY_EXTRACTING)
    return ("docker", 0.2, "≤ 0.2x Docker", WHY_EXTRACTING)


def with_gnu_tar(ctx: Context, cases: list, tarball: Path) -> list:  # type: ignore[type-arg]
    """On disk, GNU tar extracting ``tarball`` (the layer) into a fresh directory there."""
    if ctx.variant != "disk":
        return cases
    target = ctx.work / "gnu-tar-extract"

    def fresh() -> None:
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()

    def tar() -> None:
        subprocess.run(["tar", "-C", str(target), "-xf", str(tarball)], check=True)

    return [*cases, ("GNU tar", fresh, tar)]


def import_base_images(ctx: Context) -> None:
    """The same rootfs tarballs, imported into each engine with the same changes."""
    from dockyard.devtools.baseimages import BASE_IMAGES, ensure_base_image

    for name, spec in BASE_IMAGES.items():
        tarball = ensure_base_image(name)
        ctx.files[name] = tarball
        for engine in ctx.engines.values():
            if engine.has_image(spec["tag"]):
                continue
            changes = [arg for change in spec["changes"] for arg in ("--change", change)]
            engine.run("import", *changes, str(tarball), spec["tag"])


def rmi(engine: Engine, *refs: str) -> None:
    if not harness.STOPPING:
        engine.run("rmi", *refs, check=False)


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def engine_cases(ctx: Context, action, prepare=None) -> list:  # type: ignore[no-untyped-def]
    """One case per engine; action(engine) and prepare(engine) receive it."""
    cases = []
    for label, engine in ctx.engines.items():
        cases.append(
            (
                label,
                (lambda e=engine: prepare(e)) if prepare is not None else None,
                lambda e=engine: action(e),
            )
        )
    return cases


def pip_installed(ctx: Context) -> Path:
    """dockyard as a plain `pip install` leaves it (a wheel of this checkout in a venv of
    its own, bytecode compiled by pip): the `dockyard` command of that venv."""
    venv = ctx.work / "pip-venv"
    script = venv / "bin" / "dockyard"
    if script.exists():
        return script
    dist = ctx.work / "pip-dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-w", str(dist), str(REPO)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--no-deps", "--no-index", "--disable-pip-version-check",
         *map(str, dist.glob("dockyard-*.whl"))],
        check=True,
    )  # fmt: skip
    shutil.rmtree(REPO / "build", ignore_errors=True)  # the wheel's build directory
    return script


def images(ctx: Context) -> None:
    if ctx.wanted("images-2"):
        with ctx.scenario("images-2", "`images` (2 images)", ("docker", 0.8, "≤ 0.8x Docker")) as s:
            ctx.alternate(s, engine_cases(ctx, lambda e: e.quiet("images")), runs=ctx.fast_runs)
    if ctx.wanted("images-pip") and "docker" in ctx.engines:
        with ctx.scenario(
            "images-pip",
            "`images` (2 images), dockyard installed by plain `pip install`",
            ("docker", 0.8, "≤ 0.8x Docker"),
            note="a wheel of this checkout installed by pip into a venv of its own (no "
            "scripts/install.sh launcher): the `dockyard` script pip writes, bytecode pip compiled",
        ) as s:
            s.ours = "dockyard (pip install)"
            script = str(pip_installed(ctx))
            ours = ctx.engines["dockyard"]
            env = {k: v for k, v in ours.env.items() if k != "PYTHONPATH"}

            def pip_images() -> None:
                subprocess.run([script, "images"], env=env, check=True, stdout=subprocess.DEVNULL)

            docker = ctx.engines["docker"]
            cases = [(s.ours, None, pip_images), ("docker", None, lambda: docker.quiet("images"))]
            ctx.alternate(s, cases, runs=ctx.fast_runs)
    if ctx.wanted("images-500"):
        with ctx.scenario(
            "images-500",
            "`images` (500 images)",
            note="500 distinct images (configs differ by a label), 20 on each of 25 small "
            "layers, loaded from one archive, removed after the scenario; Podman 4.3 takes about "
            "30 s per listing of them, so it is timed once, after the others' rounds",
        ) as s:
            archive = ctx.work / "many.tar"
            tags = archives.many_images(archive, 500)
            for engine in ctx.engines.values():
                engine.run("load", "-i", str(archive))
            try:
                quick = {k: e for k, e in ctx.engines.items() if k != "podman"}
                cases = [(k, None, lambda e=e: e.quiet("images")) for k, e in quick.items()]
                ctx.alternate(s, cases, runs=ctx.fast_runs)
                if "podman" in ctx.engines:  # about 30 s a listing here: timed once
                    start = time.perf_counter()
                    ctx.engines["podman"].quiet("images")
                    s.add("podman", time.perf_counter() - start)
            finally:
                for engine in ctx.engines.values():
                    for start in range(0, len(tags), 100):
                        rmi(engine, *tags[start : start + 100])
                archive.unlink(missing_ok=True)


def run_rm(ctx: Context) -> None:
    if not ctx.wanted("run"):
        return
    with ctx.scenario(
        "run",
        "`run --rm --network none busybox true`",
        ("docker", 0.35, "≤ 0.35x Docker", WHY_RUN),
    ) as s:
        ctx.alternate(
            s,
            engine_cases(
                ctx, lambda e: e.quiet("run", "--rm", "--network", "none", "busybox", "true")
            ),
            runs=ctx.fast_runs,
        )


def commit(ctx: Context) -> None:
    if not ctx.wanted("commit"):
        return
    with ctx.scenario(
        "commit",
        "`commit` of a container holding 100 MB of random data",
        ("docker", 0.5, "≤ 0.5x Docker", WHY_COMMIT),
    ) as s:
        for engine in ctx.engines.values():
            engine.run("rm", "-f", "bench-commit", check=False)
            engine.run(
                "run", "--name", "bench-commit", "--network", "none", "busybox",
                "dd", "if=/dev/urandom", "of=/random.bin", "bs=1M", "count=100",
            )  # fmt: skip
        try:
            ctx.alternate(
                s,
                engine_cases(
                    ctx,
                    lambda e: e.quiet("commit", "bench-commit", COMMITTED),
                    lambda e: rmi(e, COMMITTED),
                ),
            )
        finally:
            for engine in ctx.engines.values():
                rmi(engine, COMMITTED)
                engine.run("rm", "-f", "bench-commit", check=False)


def save_load(ctx: Context) -> None:
    out = ctx.work / "saved.tar"
    # one archive for every engine: Docker's own `save` of debian (the pre-25 layout)
    archive = ctx.work / "debian-docker.tar"
    if "docker" in ctx.engines:
        ctx.engines["docker"].run("save", "-o", str(archive), DEBIAN)
    else:
        ctx.engines["dockyard"].run("save", "-o", str(archive), DEBIAN)
    ctx.files["debian-archive"] = archive
    # every engine's debian:bookworm becomes the archive's image, so that removing it
    # removes its layer too (an engine's own import of the rootfs would keep it)
    for name, engine in ctx.engines.items():
        if name != "docker" and "docker" in ctx.engines:
            rmi(engine, DEBIAN)
            engine.run("load", "-i", str(archive))
    if ctx.wanted("save"):
        with ctx.scenario("save", "`save` debian", ("docker", 0.5, "≤ 0.5x Docker")) as s:
            ctx.alternate(
                s,
                engine_cases(
                    ctx, lambda e: e.quiet("save", "-o", str(out), DEBIAN), lambda e: _unlink(out)
                ),
            )
            _unlink(out)
    if ctx.wanted("load-present"):
        with ctx.scenario(
            "load-present",
            "`load` debian (present)",
            note="the archive is `docker save`'s (pre-25 layout), the same file for all",
        ) as s:
            ctx.alternate(s, engine_cases(ctx, lambda e: e.quiet("load", "-i", str(archive))))
    if ctx.wanted("load-absent"):
        with ctx.scenario(
            "load-absent",
            "`load` debian (absent)",
            extracting_target(ctx),
            note="[disk]: GNU tar extracts the debian rootfs tar (the archive's layer)",
        ) as s:
            try:
                ctx.alternate(
                    s,
                    with_gnu_tar(
                        ctx,
                        engine_cases(
                            ctx,
                            lambda e: e.quiet("load", "-i", str(archive)),
                            lambda e: rmi(e, DEBIAN),
                        ),
                        ctx.files["debian"],
                    ),
                )
            finally:
                for engine in ctx.engines.values():
                    if not engine.has_image(DEBIAN):
                        engine.run("load", "-i", str(archive))


def export_import(ctx: Context) -> None:
    out = ctx.work / "exported.tar"
    if ctx.wanted("export"):
        with ctx.scenario(
            "export", "`export` (debian container)", ("docker", 0.5, "≤ 0.5x Docker")
        ) as s:
            for engine in ctx.engines.values():
                engine.run("rm", "-f", "bench-export", check=False)
                engine.run("create", "--name", "bench-export", "--network", "none", DEBIAN, "true")
            try:
                ctx.alternate(
                    s,
                    engine_cases(
                        ctx,
                        lambda e: e.quiet("export", "-o", str(out), "bench-export"),
                        lambda e: _unlink(out),
                    ),
                )
            finally:
                _unlink(out)
                for engine in ctx.engines.values():
                    engine.run("rm", "-f", "bench-export", check=False)
    if ctx.wanted("import"):
        rootfs = str(variant_rootfs(ctx, "import-rootfs.tar"))
        with ctx.scenario(
            "import",
            "`import` debian rootfs (absent)",
            extracting_target(ctx),
            note="the debian:bookworm rootfs tarball plus one file (so that no engine has "
            "the layer already); the image is removed before each run",
        ) as s:
            try:
                ctx.alternate(
                    s,
                    with_gnu_tar(
                        ctx,
                        engine_cases(
                            ctx,
                            lambda e: e.quiet("import", rootfs, IMPORTED),
                            lambda e: rmi(e, IMPORTED),
                        ),
                        Path(rootfs),
                    ),
                )
            finally:
                for engine in ctx.engines.values():
                    rmi(engine, IMPORTED)


def variant_rootfs(ctx: Context, name: str) -> Path:
    """The debian rootfs tarball plus one small file: the same size, a layer no store has."""
    import io
    import tarfile

    path = ctx.work / name
    if not path.exists():
        shutil.copyfile(ctx.files["debian"], path)
        with tarfile.open(path, "a") as archive:
            data = f"{name}: a layer that is in no store yet\n".encode()
            info = tarfile.TarInfo(f"etc/{name}")
            info.size = len(data)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    return path


def history(ctx: Context) -> None:
    if not ctx.wanted("history"):
        return
    with ctx.scenario("history", "`history` debian") as s:
        ctx.alternate(
            s, engine_cases(ctx, lambda e: e.quiet("history", DEBIAN)), runs=ctx.fast_runs
        )


def rmi_layers(ctx: Context) -> None:
    if not ctx.wanted("rmi"):
        return
    archive = ctx.work / "ten.tar"
    archives.layered_image(archive, TEN)
    with ctx.scenario(
        "rmi",
        "`rmi` of a 10-layer image",
        note="10 layers of 1 MiB random data each, loaded again before each run",
    ) as s:

        def prepare(engine: Engine) -> None:
            if not engine.has_image(TEN):
                engine.run("load", "-i", str(archive))

        try:
            ctx.alternate(s, engine_cases(ctx, lambda e: e.quiet("rmi", TEN), prepare))
        finally:
            archive.unlink(missing_ok=True)
            for engine in ctx.engines.values():
                rmi(engine, TEN)


def extraction(ctx: Context) -> None:
    if not ctx.wanted("extract"):
        return
    rootfs = str(ctx.files["debian"])
    target = ctx.work / "extract"
    code = (
        "import sys, time; from pathlib import Path; from dockyard.layers.apply import apply_layer\n"
        "start = time.perf_counter()\n"
        "with open(sys.argv[1], 'rb') as stream: apply_layer(stream, Path(sys.argv[2]))\n"
        "print(time.perf_counter() - start)"
    )
    env = dict(ctx.engines["dockyard"].env)

    def fresh() -> None:
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()

    def tar() -> None:
        subprocess.run(["tar", "-C", str(target), "-xf", rootfs], check=True)

    def ours() -> dict:
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", code, rootfs, str(target)],
            check=True, env=env, cwd=REPO, capture_output=True, text=True,
        )  # fmt: skip
        whole = time.perf_counter() - start
        return {"seconds": float(result.stdout.strip()), "process_s": whole}

    with ctx.scenario(
        "extract",
        "layer extraction: debian rootfs (uncompressed tar) into an empty directory",
        ("GNU tar", 2.0, "≤ 2x GNU tar", WHY_EXTRACT),
        note="dockyard's apply_layer (libarchive, hostile-input checks, diffID hash) timed "
        "inside a fresh Python process (the whole process, start-up and imports included, is "
        "the `process_s` figure) vs the whole `tar -xf` process",
    ) as s:
        try:
            ctx.alternate(s, [("dockyard", fresh, ours), ("GNU tar", fresh, tar)])
        finally:
            shutil.rmtree(target, ignore_errors=True)


def through_daemon(ctx: Context) -> None:
    """The real docker CLI against dockyard's Engine API daemon and against dockerd."""
    if not (ctx.wanted("daemon") and "docker" in ctx.engines):
        return
    ours = ctx.engines["dockyard"]
    docker = ctx.engines["docker"]
    client: Docker | None = None
    run = ("run", "--rm", "--network", "none", "busybox", "true")
    try:
        with ctx.scenario(
            "daemon-images",
            "`docker images` through the daemon",
            note=(
                "the same docker CLI (Debian's) against dockyard's daemon and against dockerd; "
                "the CLI's own start-up is most of either time, so issue 15's target sits on the "
                "daemon's own time below"
            ),
        ) as s:
            ours.start_daemon()  # type: ignore[attr-defined]
            client = Docker(ctx.work, host=f"unix://{ours.socket}")  # type: ignore[attr-defined]
            ctx.alternate(
                s,
                [
                    ("dockyard", None, lambda: client.quiet("images")),  # type: ignore[union-attr]
                    ("docker", None, lambda: docker.quiet("images")),
                ],
                runs=ctx.fast_runs,
                children_cpu=False,
            )
        if client is None:
            return
        with ctx.scenario(
            "daemon-run",
            "`docker run --rm --network none busybox true` through the daemon",
            ("docker", 0.3, "≤ 0.3x Docker"),
        ) as s:
            ctx.alternate(
                s,
                [
                    ("dockyard", None, lambda: client.quiet(*run)),  # type: ignore[union-attr]
                    ("docker", None, lambda: docker.quiet(*run)),
                ],
                runs=ctx.fast_runs,
                children_cpu=False,
            )
        sockets = {"dockyard": str(ours.socket), "docker": str(docker.socket)}  # type: ignore[attr-defined]
        api_note = (
            "the Engine API requests alone, sent by the harness on fresh connections to each "
            "daemon's socket (bench/daemon_api.py): the daemon's own time, no docker CLI"
        )
        for key, title, request, target in (
            ("daemon-api-images", "daemon's own time: `GET /images/json`", daemon_api.list_images,
             ("docker", 0.8, "≤ 0.8x Docker")),
            ("daemon-api-run", "daemon's own time: the requests of `run --rm busybox true` "
             "(create, wait, start)", daemon_api.run_rm, None),
        ):  # fmt: skip
            with ctx.scenario(key, title, target, note=api_note) as s:
                cases = [
                    (name, None, lambda p=path, r=request: r(p)) for name, path in sockets.items()
                ]
                ctx.alternate(s, cases, runs=ctx.fast_runs, children_cpu=False)
    finally:
        ours.stop()


def build(ctx: Context) -> None:
    from bench.build_bench import build as build_scenarios

    build_scenarios(ctx)


ALL = [images, run_rm, commit, save_load, export_import, history, rmi_layers, extraction, build,
       scenarios_pull.pull_300]  # fmt: skip
# The keys of ALL's scenarios (what --only can name), for deciding whether a pass is needed.
KEYS = ("images-2", "images-pip", "images-500", "run", "commit", "save", "load-present", "load-absent",
        "export", "import", "history", "rmi", "extract", "build", *scenarios_pull.KEYS)  # fmt: skip
