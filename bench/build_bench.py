"""`build` against Docker 20.10's classic builder (DOCKER_BUILDKIT=0), same context: an
uncached 10-step build (busybox base, RUN/COPY/ENV mix) and a fully cached rebuild."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.harness import Context
from bench.peers import Engine

TAG = "bench/build:latest"
DOCKERFILE = """FROM busybox
ENV APP=/app
WORKDIR /app
COPY a.txt .
RUN echo one > one.txt
COPY dir ./dir
ENV STEP=2
RUN cat a.txt one.txt > both.txt
RUN mkdir -p /data && echo x > /data/x
LABEL bench=build
CMD ["cat", "both.txt"]
"""
WHY_UNCACHED = (
    "each RUN starts a monitor and crun (~30 ms) and each step commits a layer; the "
    "metadata steps write a config only"
)
WHY_CACHED = "a fresh Python process (~70 ms of start-up and imports) and one probe per step"


def _context(ctx: Context) -> Path:
    context = ctx.work / "build-context"
    if not context.exists():
        (context / "dir" / "sub").mkdir(parents=True)
        (context / "Dockerfile").write_text(DOCKERFILE)
        (context / "a.txt").write_text("a\n" * 1000)
        for index in range(20):
            (context / "dir" / "sub" / f"f{index}").write_text(f"{index}\n" * 100)
    return context


def _build(engine: Engine, *args: str) -> None:
    env = dict(engine.env, DOCKER_BUILDKIT="0")
    result = subprocess.run(
        engine.cmd("build", *args), env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"{engine.name} build: {result.stderr.decode(errors='replace')[-400:]}")


def _cases(ctx: Context, *args: str) -> list:  # type: ignore[no-untyped-def]
    return [
        (label, None, lambda e=engine: _build(e, *args))
        for label, engine in ctx.engines.items()
        if label in ("dockyard", "docker")
    ]


def build(ctx: Context) -> None:
    context = str(_context(ctx))
    if ctx.wanted("build-uncached"):
        with ctx.scenario(
            "build-uncached",
            "`build --no-cache` of a 10-step Dockerfile (busybox, RUN/COPY/ENV mix)",
            ("docker", 0.5, "≤ 0.5x Docker (classic builder)", WHY_UNCACHED),
        ) as s:
            ctx.alternate(s, _cases(ctx, "--no-cache", "-t", TAG, context))
    if ctx.wanted("build-cached"):
        with ctx.scenario(
            "build-cached",
            "`build` of the same unchanged context again (every step from the cache)",
            ("docker", 0.3, "≤ 0.3x Docker and < 150 ms", WHY_CACHED),
        ) as s:
            for engine in ctx.engines.values():
                if engine.name in ("dockyard", "docker"):
                    _build(engine, "-t", TAG, context)
            ctx.alternate(s, _cases(ctx, "-t", TAG, context), runs=ctx.fast_runs)
