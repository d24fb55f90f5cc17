"""`build`: a Dockerfile run step by step, as Docker 20.10's classic builder runs it.

Each RUN is a container on top of the previous image, committed as the next image; COPY,
ADD and WORKDIR lay files into a container's tree and commit it; the other instructions
change the config only (an empty_layer step). Before each step the cache is probed
(cache.py). Progress is yielded as Docker's build message stream: {"stream": text},
{"aux": {"ID": ...}}, and on failure {"error": ..., "errorDetail": {...}}.
"""

from __future__ import annotations

import copy
import json
import os
import posixpath
import shutil
import tempfile

from dockyard.build import cache, copying, history, steps
from dockyard.build.buildargs import BuildArgs
from dockyard.build.contexthash import HOST
from dockyard.build.parser import (
    DockerfileParseError,
    Instruction,
    parse,
    parse_with_warnings,
)
from dockyard.build.shellwords import process_word, process_words
from dockyard.datarecord import dataclass, field
from dockyard.digest import Digest
from dockyard.errors import DockyardError, InvalidArgument, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Generator, Iterator
    from typing import Any

    from dockyard.build.context import BuildContext
    from dockyard.store import Store

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class BuildOptions:
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str | None] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "none"
    remove: bool = True
    force_remove: bool = False


class BuildError(DockyardError):
    """A step failed; code is the exit status `docker build` ends with."""

    def __init__(self, message: str, code: int = 1, before_output: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.before_output = before_output  # Docker answers these as an HTTP error


@dataclass
class Stage:
    name: str
    base: str
    index: int
    from_instruction: Instruction
    instructions: list[Instruction] = field(default_factory=list)


class _State:
    def __init__(self, args: BuildArgs) -> None:
        self.image_id: Digest | None = None
        self.config: dict[str, Any] = {}
        self.cmd_set = False
        self.maintainer = ""
        self.args = args
        self.stage_name = ""

    def env_for_expansion(self) -> list[str]:
        env = list(self.config.get("Env") or [])
        return env + self.args.filter_allowed(env)


def split_stages(instructions: list[Instruction]) -> tuple[list[Instruction], list[Stage]]:
    meta: list[Instruction] = []
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.name == "FROM":
            args = instruction.args
            if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as"):
                raise DockerfileParseError(
                    f"dockerfile parse error line {instruction.line}: FROM requires either"
                    " one or three arguments"
                )
            name = args[2].lower() if len(args) == 3 else ""
            stages.append(Stage(name, args[0], len(stages), instruction))
        elif not stages:
            if instruction.name != "ARG":
                raise BuildError("no build stage in current context", before_output=True)
            meta.append(instruction)
        else:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise BuildError("no build stage in current context", before_output=True)
    return meta, stages


def _flags(instruction: Instruction, allowed: dict[str, str]) -> dict[str, str]:
    """--name=value flags; allowed: name -> default."""
    values = dict(allowed)
    for flag in instruction.flags:
        body = flag[2:] if flag.startswith("--") else flag
        key, sep, value = body.partition("=")
        if key not in allowed:
            raise DockerfileParseError(
                f"dockerfile parse error line {instruction.line}: Unknown flag: {key}"
            )
        values[key] = value if sep else "true"
    return values


def _parse_error(instruction: Instruction, message: str) -> DockerfileParseError:
    return DockerfileParseError(f"dockerfile parse error line {instruction.line}: {message}")


FLAGS = {
    "FROM": {"platform": ""},
    "COPY": {"from": "", "chown": "", "chmod": ""},
    "ADD": {"chown": "", "chmod": ""},
    "HEALTHCHECK": {"interval": "", "timeout": "", "start-period": "", "retries": ""},
    "RUN": {},
}
MIN_ARGS = {
    "ENV": "ENV requires at least one argument",
    "LABEL": "LABEL requires at least one argument",
    "ARG": "ARG requires at least one argument",
    "EXPOSE": "EXPOSE requires at least one argument",
    "USER": "USER requires exactly one argument",
    "WORKDIR": "WORKDIR requires exactly one argument",
    "VOLUME": "VOLUME requires at least one argument",
    "STOPSIGNAL": "STOPSIGNAL requires exactly one argument",
    "MAINTAINER": "MAINTAINER requires exactly one argument",
    "COPY": "COPY requires at least two arguments",
    "ADD": "ADD requires at least two arguments",
    "SHELL": "SHELL requires at least one argument",
    "HEALTHCHECK": "HEALTHCHECK requires at least one argument",
}


def validate(instruction: Instruction) -> None:
    """The checks Docker's instructions.Parse makes before any step runs."""
    name = instruction.name
    _flags(instruction, FLAGS.get(name, {}))
    args = instruction.args
    if name in MIN_ARGS and (not args or args == [""]):
        raise _parse_error(instruction, MIN_ARGS[name])
    if name in ("COPY", "ADD") and len(args) < 2:
        raise _parse_error(instruction, MIN_ARGS[name])
    if name in ("ENV", "LABEL") and len(args) % 2:
        raise _parse_error(instruction, f"{name} must have two arguments")
    if name == "SHELL" and not instruction.json:
        raise _parse_error(instruction, "SHELL requires the arguments to be in JSON form")


class Builder:
    def __init__(
        self,
        store: Store,
        context: BuildContext,
        options: BuildOptions,
        images: Any,
        containers: Any,
    ) -> None:
        self.store = store
        # The caller's engine.images and engine.containers on the same store: the engine
        # sits above the builder (engine.images.build runs it), so they are handed in.
        self.images = images
        self.containers = containers
        self.context = context
        self.options = options
        self.escape = "\\"
        self.stage_images: dict[str, Digest | None] = {}  # by name and by index
        self.created_containers: list[str] = []

    # ------------------------------------------------------------ the whole build

    def run(self) -> Iterator[dict[str, Any]]:
        text = self.context.dockerfile
        instructions, found, self.escape = parse_with_warnings(text, self.context.dockerfile_name)
        meta, stages = split_stages(instructions)
        for key, value in sorted(self.options.labels.items()):
            # Docker appends one `LABEL key=value` step per --label to the last stage
            stages[-1].instructions.append(
                Instruction(
                    name="LABEL", original=f"LABEL {key}={value}", line=0, args=[key, value]
                )  # fmt: skip
            )
        for instruction in instructions:
            validate(instruction)
        if self.options.target:
            names = [s.name for s in stages]
            if self.options.target.lower() not in names:
                raise BuildError(
                    f"failed to reach build target {self.options.target} in Dockerfile",
                    before_output=True,
                )
            stages = stages[: names.index(self.options.target.lower()) + 1]
        total = len(meta) + len(stages) + sum(len(s.instructions) for s in stages)
        if found:
            yield _stderr("\n".join(found) + "\n")
        step = 0
        args = BuildArgs(self.options.build_args)
        for instruction in meta:
            step += 1
            yield _stream(f"Step {step}/{total} : {instruction.original.rstrip()}\n")
            for key, value in self._arg_pairs(instruction, args.meta_values()):
                args.add_meta(key, value)
        state = None
        for stage in stages:
            step += 1
            yield _stream(f"Step {step}/{total} : {stage.from_instruction.original}\n")
            state = _State(args.for_stage())
            yield from self._from(state, stage, args)
            yield _stream(f" ---> {_short(state.image_id)}\n")
            for instruction in stage.instructions:
                step += 1
                yield _stream(f"Step {step}/{total} : {instruction.original.rstrip()}\n")
                yield from self.dispatch(state, instruction)
                yield _stream(f" ---> {_short(state.image_id)}\n")
            if state.image_id is not None:
                yield {"aux": {"ID": str(state.image_id)}}
            args.referenced |= state.args.referenced
            self.stage_images[str(stage.index)] = state.image_id
            if stage.name:
                self.stage_images[stage.name] = state.image_id
        assert state is not None
        unused = [k for k in args.unused() if k not in args.meta]
        if unused:
            yield _stream(
                f"[Warning] One or more build-args {history.go_list(unused)} were not consumed\n"
            )
        if state.image_id is None:
            raise BuildError("No image was generated. Is your Dockerfile empty?")
        self.image_id = state.image_id

    # ------------------------------------------------------------ FROM and ONBUILD

    def _from(self, state: _State, stage: Stage, args: BuildArgs) -> Iterator[dict[str, Any]]:
        meta_env = args.meta_values()
        base = process_word(stage.base, meta_env, self.escape)
        flags = _flags(stage.from_instruction, FLAGS["FROM"])
        if flags.get("platform"):
            platform = process_word(flags["platform"], meta_env, self.escape)
            if platform.split("/")[0] not in ("linux", ""):
                raise BuildError(f"invalid platform: {platform}")
        state.stage_name = stage.name
        if base.lower() in self.stage_images:
            state.image_id = self.stage_images[base.lower()]
        elif base == "scratch":
            state.image_id = None
        else:
            state.image_id = self._base_image(base)
        data = self.store.config(state.image_id).data if state.image_id else {}
        state.config = copy.deepcopy(data.get("config") or {})
        env = list(state.config.get("Env") or [])
        if not any(e.split("=", 1)[0] == "PATH" for e in env):
            env.append(DEFAULT_PATH)
        state.config["Env"] = env
        state.config["OpenStdin"] = False
        state.config["StdinOnce"] = False
        triggers = list(state.config.get("OnBuild") or [])
        state.config["OnBuild"] = None
        if not state.config.get("Labels"):
            state.config["Labels"] = None  # dockyard's import writes {} where Docker's has null
        if triggers:
            word = "trigger" if len(triggers) == 1 else "triggers"
            yield _stream(f"# Executing {len(triggers)} build {word}\n")
            for trigger in triggers:
                prefix = f"# escape={self.escape}\n" if self.escape != "\\" else ""
                parsed = parse(prefix + trigger + "\n")
                for instruction in parsed:
                    validate(instruction)
                    yield from self.dispatch(state, instruction)

    def _base_image(self, name: str) -> Digest:
        try:
            return self.images.resolve(name)
        except (NotFound, InvalidArgument):
            raise BuildError(
                f"No such image: {name} (build does not pull: `dockyard pull {name}` first)"
            ) from None

    # ------------------------------------------------------------ one instruction

    def dispatch(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        handler = getattr(self, "_" + instruction.name.lower())
        yield from handler(state, instruction)

    def _expand(self, state: _State, word: str) -> str:
        return process_word(word, state.env_for_expansion(), self.escape)

    def _pairs(self, state: _State, instruction: Instruction) -> list[tuple[str, str]]:
        args = instruction.args
        return [
            (self._expand(state, args[i]), self._expand(state, args[i + 1]))
            for i in range(0, len(args) - 1, 2)
        ]

    def _metadata(
        self, state: _State, comment: str, string_form: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Commit a config-only step (Docker: a container created and committed unchanged)."""
        make = history.nop_cmd_string if string_form else history.nop_cmd
        run_config = _run_config(state, make(state.config, comment))
        if self._probe(state, run_config):
            yield _stream(" ---> Using cache\n")
            return
        fake = os.urandom(32).hex()
        yield _stream(f" ---> Running in {fake[:12]}\n")
        # Docker's probe container fills these in (its ID, and Labels {} for null)
        run_config["Hostname"] = fake[:12]
        run_config["Labels"] = run_config.get("Labels") or {}
        state.image_id = steps.commit_tree(
            self.store,
            state.image_id,
            None,
            config=_image_config(state),
            run_config=run_config,
            created_by=" ".join(run_config["Cmd"]),
            author=state.maintainer,
        )
        if self.options.remove or self.options.force_remove:
            yield _stream(f"Removing intermediate container {fake[:12]}\n")

    def _probe(self, state: _State, run_config: dict[str, Any]) -> bool:
        if self.options.no_cache:
            return False
        hit = cache.probe(self.store, state.image_id, run_config)
        if hit is None:
            return False
        state.image_id = hit
        return True

    def _env(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        pairs = self._pairs(state, instruction)
        env = list(state.config.get("Env") or [])
        for key, value in pairs:
            keys = [e.split("=", 1)[0] for e in env]
            if key in keys:
                env[keys.index(key)] = f"{key}={value}"
            else:
                env.append(f"{key}={value}")
        state.config["Env"] = env
        yield from self._metadata(state, "ENV " + " ".join(f"{k}={v}" for k, v in pairs))

    def _label(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        pairs = self._pairs(state, instruction)
        labels = dict(state.config.get("Labels") or {})
        for key, value in pairs:
            labels[key] = value
        state.config["Labels"] = labels
        yield from self._metadata(state, "LABEL " + " ".join(f"{k}={v}" for k, v in pairs))

    def _maintainer(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        state.maintainer = instruction.args[0]
        yield from self._metadata(state, "MAINTAINER " + state.maintainer)

    def _arg_pairs(self, instruction: Instruction, env: list[str]) -> list[tuple[str, str | None]]:
        pairs: list[tuple[str, str | None]] = []
        for word in instruction.args:
            key, sep, value = word.partition("=")
            pairs.append((key, process_word(value, env, self.escape) if sep else None))
        return pairs

    def _arg(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        pairs = self._arg_pairs(instruction, state.env_for_expansion())
        text = []
        for key, value in pairs:
            state.args.add(key, value)
            text.append(key if value is None else f"{key}={value}")
        yield from self._metadata(state, "ARG " + " ".join(text))

    def _cmd_line(self, state: _State, instruction: Instruction) -> list[str]:
        if instruction.json:
            return list(instruction.args)
        return [*history.shell_of(state.config), instruction.args[0] if instruction.args else ""]

    def _cmd(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        cmd = self._cmd_line(state, instruction)
        state.config["Cmd"] = cmd
        yield from self._metadata(state, "CMD " + history.go_quote_list(cmd))
        if instruction.args:
            state.cmd_set = True

    def _entrypoint(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        if instruction.json and not instruction.args:
            state.config["Entrypoint"] = None
        elif not instruction.json and not (instruction.args and instruction.args[0].strip()):
            state.config["Entrypoint"] = [*history.shell_of(state.config), ""]
        else:
            state.config["Entrypoint"] = self._cmd_line(state, instruction)
        if not state.cmd_set:
            state.config["Cmd"] = None
        yield from self._metadata(
            state, "ENTRYPOINT " + history.go_quote_list(state.config["Entrypoint"])
        )

    def _expose(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        ports: list[str] = []
        for word in sorted(instruction.args):
            ports += process_words(word, state.env_for_expansion(), self.escape)
        exposed = dict(state.config.get("ExposedPorts") or {})
        for spec in ports:
            for port in _port_specs(spec):
                exposed[port] = {}
        state.config["ExposedPorts"] = exposed
        yield from self._metadata(state, "EXPOSE " + " ".join(ports))

    def _user(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        state.config["User"] = self._expand(state, instruction.args[0])
        yield from self._metadata(state, f"USER {state.config['User']}")

    def _volume(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        words = instruction.args
        paths = [self._expand(state, w) for w in words]
        volumes = dict(state.config.get("Volumes") or {})
        for path in paths:
            if not path:
                raise BuildError("VOLUME specified can not be an empty string")
            volumes[path] = {}
        state.config["Volumes"] = volumes
        yield from self._metadata(state, f"VOLUME {history.go_list(paths)}")

    def _stopsignal(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        from dockyard.containers.lifecycle import parse_signal

        signal = self._expand(state, instruction.args[0])
        try:
            parse_signal(signal)
        except InvalidArgument as error:
            raise BuildError(str(error)) from None
        state.config["StopSignal"] = signal
        yield from self._metadata(state, f"STOPSIGNAL {signal}")

    def _shell(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        state.config["Shell"] = list(instruction.args)
        yield from self._metadata(state, f"SHELL {history.go_list(state.config['Shell'])}")

    def _onbuild(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        state.config["OnBuild"] = [*(state.config.get("OnBuild") or []), instruction.trigger]
        yield from self._metadata(state, "ONBUILD " + instruction.trigger)

    def _healthcheck(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        flags = _flags(instruction, FLAGS["HEALTHCHECK"])
        args = instruction.args
        kind = args[0].upper() if args else ""
        old = (state.config.get("Healthcheck") or {}).get("Test") or []
        if old and old[0] != "NONE":
            yield _stream(f"Note: overriding previous HEALTHCHECK: {history.go_list(old)}\n")
        if kind == "NONE":
            if len(args) > 1 or any(v for v in flags.values()):
                raise BuildError("HEALTHCHECK NONE takes no arguments")
            health: dict[str, Any] = {"Test": ["NONE"]}
        elif kind == "CMD":
            rest = args[1:]
            if instruction.json:
                test = ["CMD", *rest]
            else:
                test = ["CMD-SHELL", " ".join(rest)]
            health = {"Test": test}
            for flag, key in (("interval", "Interval"), ("timeout", "Timeout"),
                              ("start-period", "StartPeriod")):  # fmt: skip
                if flags[flag]:
                    health[key] = _duration(flags[flag], flag)
            if flags["retries"]:
                try:
                    retries = int(flags["retries"])
                except ValueError:
                    raise BuildError(f"invalid --retries value: {flags['retries']}") from None
                if retries < 0:
                    raise BuildError("--retries cannot be negative")
                if retries:
                    health["Retries"] = retries
        else:
            raise BuildError(f"Unknown type {kind!r} in HEALTHCHECK (try CMD)")
        state.config["Healthcheck"] = health
        yield from self._metadata(state, "HEALTHCHECK " + history.healthcheck_text(health))

    # ------------------------------------------------------------ WORKDIR, RUN

    def _workdir(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        path = self._expand(state, instruction.args[0])
        current = state.config.get("WorkingDir") or "/"
        state.config["WorkingDir"] = posixpath.normpath(posixpath.join("/", current, path))
        if state.config["WorkingDir"].startswith("//"):
            state.config["WorkingDir"] = state.config["WorkingDir"][1:]
        comment = "WORKDIR " + state.config["WorkingDir"]
        run_config = _run_config(state, history.nop_cmd_string(state.config, comment))
        if self._probe(state, run_config):
            yield _stream(" ---> Using cache\n")
            return
        yield from self._tree_step(
            state,
            run_config,
            lambda tree: _make_workdir(tree, state.config["WorkingDir"]),
            hostname=True,
        )

    def _run(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        cmd = self._cmd_line(state, instruction)
        env = list(state.config.get("Env") or [])
        build_args = state.args.filter_allowed(env)
        save_cmd = cmd
        shown = sorted(
            a for a in build_args if state.args.referenced_or_not_builtin(a.split("=", 1)[0])
        )
        if build_args:
            save_cmd = [f"|{len(shown)}", *shown, *cmd]
        probe_config = _run_config(state, save_cmd)
        probe_config["Entrypoint"] = None
        if self._probe(state, probe_config):
            yield _stream(" ---> Using cache\n")
            return
        if state.image_id is None:
            raise BuildError("Please provide a source image with `from` prior to run")
        volumes = []
        import tempfile

        volume_dirs = []
        for path in state.config.get("Volumes") or {}:
            directory = tempfile.mkdtemp(prefix="build-volume-", dir=self.store.tmp)
            volume_dirs.append(directory)
            volumes.append(f"{directory}:{path}")
        container = steps.create(
            self.containers,
            state.image_id,
            cmd,
            env=env + build_args,
            user=state.config.get("User") or "",
            workdir=state.config.get("WorkingDir") or "",
            network=self.options.network,
            volumes=volumes,
        )
        if volume_dirs:
            with steps.tree_of(self.store, container) as tree:
                for path in state.config.get("Volumes") or {}:
                    _make_workdir(tree, path)
        yield _stream(f" ---> Running in {container[:12]}\n")
        try:
            code = yield from _relay(steps.run(self.containers, container))
        finally:
            import shutil

            for directory in volume_dirs:
                shutil.rmtree(directory, ignore_errors=True)
        if code != 0:
            if self.options.force_remove:
                steps.remove(self.containers, container)
                yield _stream(f"Removing intermediate container {container[:12]}\n")
            raise BuildError(
                f"The command '{' '.join(cmd)}' returned a non-zero code: {code}", code
            )
        state.image_id = steps.commit(
            self.containers,
            container,
            config=_image_config(state),
            run_config=probe_config,
            created_by=" ".join(save_cmd),
            author=state.maintainer,
        )
        yield from self._remove(container)

    def _remove(self, container: str) -> Iterator[dict[str, Any]]:
        if self.options.remove or self.options.force_remove:
            steps.remove(self.containers, container)
            yield _stream(f"Removing intermediate container {container[:12]}\n")

    def _tree_step(
        self,
        state: _State,
        run_config: dict[str, Any],
        work,
        quiet: bool = False,
        hostname: bool = False,
    ) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
        """A step that changes files without running anything (WORKDIR, COPY, ADD)."""
        created_by = " ".join(run_config["Cmd"])
        if state.image_id is None:
            with steps.scratch_tree(self.store) as tree:
                work(tree)
                state.image_id = steps.commit_tree(
                    self.store, None, tree, config=_image_config(state),
                    run_config=run_config, created_by=created_by, author=state.maintainer,
                )  # fmt: skip
            return
        container = steps.create(self.containers, state.image_id, run_config["Cmd"])
        if hostname:
            run_config = dict(run_config, Hostname=container[:12])
            run_config["Labels"] = run_config.get("Labels") or {}
        if not quiet:
            yield _stream(f" ---> Running in {container[:12]}\n")
        try:
            with steps.tree_of(self.store, container) as tree:
                work(tree)
            state.image_id = steps.commit(
                self.containers, container, config=_image_config(state), run_config=run_config,
                created_by=created_by, author=state.maintainer,
            )  # fmt: skip
        except BaseException:
            steps.remove(self.containers, container)
            raise
        if quiet:
            steps.remove(self.containers, container)
        else:
            yield from self._remove(container)

    # ------------------------------------------------------------ COPY, ADD

    def _copy(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        yield from self._copy_or_add(state, instruction, "COPY")

    def _add(self, state: _State, instruction: Instruction) -> Iterator[dict[str, Any]]:
        yield from self._copy_or_add(state, instruction, "ADD")

    def _copy_or_add(
        self, state: _State, instruction: Instruction, name: str
    ) -> Iterator[dict[str, Any]]:
        from dockyard.build import copying

        flags = _flags(instruction, FLAGS[name])
        if flags.get("chmod"):
            raise BuildError(
                "the --chmod option requires BuildKit. Refer to"
                " https://docs.docker.com/go/buildkit/ to learn how to build images with"
                " BuildKit enabled"
            )
        words = [self._expand(state, w) for w in instruction.args]
        chown = self._expand(state, flags["chown"]) if flags.get("chown") else ""
        sources_text, dest = words[:-1], words[-1]
        if name == "ADD" and any(s.startswith(("http://", "https://")) for s in sources_text):
            yield from self._add_urls(state, instruction, sources_text, dest, chown)
            return
        with self._source_root(state, flags.get("from", "")) as root:
            try:
                from dockyard.build.contexthash import HOST

                headers = HOST if flags.get("from") else self.context.modes
                sources = copying.find_sources(root, sources_text, headers=headers)
            except copying.CopyError as error:
                raise BuildError(f"{name} failed: {error}") from None
            yield from self._copy_step(state, name, sources, dest, chown)

    def _copy_step(
        self, state: _State, name: str, sources: list, dest: str, chown: str
    ) -> Iterator[dict[str, Any]]:
        """COPY/ADD of sources already found: the cache key from their checksums, then
        the files laid into the step's tree."""
        from dockyard.build import copying

        if len(sources) > 1 and not dest.endswith("/"):
            raise BuildError(
                f"When using {name} with more than one source file, the destination must"
                " be a directory and end with a /"
            )
        chown_comment = f"--chown={chown}" if chown else ""
        comment = f"{name} {chown_comment}{copying.checksum_of(sources)} in {dest} "
        run_config = _run_config(state, history.nop_cmd_string(state.config, comment))
        if self._probe(state, run_config):
            yield _stream(" ---> Using cache\n")
            return
        target = copying.destination_path(state.config.get("WorkingDir") or "/", dest)

        def work(tree: str) -> None:
            owner = copying.lookup_owner(tree, chown) if chown else (0, 0)
            copying.place(tree, sources, target, owner, decompress=name == "ADD")

        try:
            yield from self._tree_step(state, run_config, work, quiet=True)
        except copying.CopyError as error:
            raise BuildError(str(error)) from None

    def _source_root(self, state: _State, from_flag: str):  # type: ignore[no-untyped-def]
        import contextlib

        if not from_flag:
            return contextlib.nullcontext(str(self.context.root))
        key = self._expand(state, from_flag).lower()
        if key in self.stage_images:
            image = self.stage_images[key]
        else:
            image = self._base_image(self._expand(state, from_flag))
        return self._image_tree(image)

    def _image_tree(self, image: Digest | None):  # type: ignore[no-untyped-def]
        import contextlib

        @contextlib.contextmanager
        def tree():  # type: ignore[no-untyped-def]
            if image is None:
                with steps.scratch_tree(self.store) as empty:
                    yield empty
                return
            container = steps.create(self.containers, image, ["/bin/sh", "-c", "#(nop) COPY --from"])
            try:
                with steps.tree_of(self.store, container) as view:
                    yield view
            finally:
                steps.remove(self.containers, container)

        return tree()

    def _add_urls(self, state, instruction, sources, dest, chown):  # type: ignore[no-untyped-def]
        """ADD with URL sources (and possibly local ones beside them)."""
        directory = tempfile.mkdtemp(prefix="build-download-", dir=self.store.tmp)
        yield {"stream": "\n"}  # where Docker's client ends its (terminal-only) download bar
        try:
            found: list[copying.Source] = []
            for text in sources:
                if text.startswith(("http://", "https://")):
                    # urllib.request, http.client and email: ~18 ms no cached build needs
                    from dockyard.build import remote

                    try:
                        path = remote.download(text, directory)
                    except InvalidArgument as error:
                        raise BuildError(str(error)) from None
                    downloaded = copying.find_sources(
                        directory, [os.path.basename(path)], wildcards=False, headers=HOST
                    )
                    for source in downloaded:  # Docker's URL sources carry the bare sum,
                        source.checksum = source.checksum.removeprefix("file:")
                        source.extract = False  # and a downloaded archive stays a file
                    found += downloaded
                else:
                    try:
                        found += copying.find_sources(
                            str(self.context.root), [text], headers=self.context.modes
                        )
                    except copying.CopyError as error:
                        raise BuildError(f"ADD failed: {error}") from None
            yield from self._copy_step(state, "ADD", found, dest, chown)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def _relay(
    output: Generator[tuple[bool, bytes], None, int],
) -> Generator[dict[str, Any], None, int]:
    """A RUN's output as build messages while it runs; its exit code."""
    import codecs

    decoders = {False: codecs.getincrementaldecoder("utf-8")("replace"),
                True: codecs.getincrementaldecoder("utf-8")("replace")}  # fmt: skip
    while True:
        try:
            is_stderr, chunk = next(output)
        except StopIteration as stop:
            return stop.value
        text = decoders[is_stderr].decode(chunk)
        if text:
            yield _stderr(text) if is_stderr else _stream(text)


def _make_workdir(tree: str, path: str) -> None:
    from dockyard.runtime.securejoin import secure_join

    target = secure_join(tree, path)
    if not os.path.isdir(target):
        relative = os.path.relpath(target, tree)
        current = tree
        for part in relative.split("/"):
            current = os.path.join(current, part)
            if not os.path.isdir(current):
                if os.path.lexists(current):
                    raise BuildError(f"mkdir {path}: not a directory")
                os.mkdir(current, 0o755)
                os.chmod(current, 0o755)


def _duration(text: str, flag: str) -> int:
    import re

    units = {
        "ns": 1,
        "us": 1000,
        "µs": 1000,
        "ms": 10**6,
        "s": 10**9,
        "m": 60 * 10**9,
        "h": 3600 * 10**9,
    }
    total = 0.0
    matches = re.findall(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)", text)
    if not matches or "".join(a + b for a, b in matches) != text:
        raise BuildError(f'time: invalid duration "{text}"')
    for number, unit in matches:
        total += float(number) * units[unit]
    value = int(total)
    if value != 0 and value < 10**6:
        raise BuildError(f"Interval {flag!r} cannot be less than 1ms")
    return value


def _port_specs(spec: str) -> list[str]:
    port, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if "-" in port:
        start, _, end = port.partition("-")
        if not (start.isdigit() and end.isdigit()) or int(start) > int(end):
            raise BuildError(f"Invalid range format for --expose: {spec}")
        return [f"{p}/{proto}" for p in range(int(start), int(end) + 1)]
    if not port.isdigit():
        raise BuildError(f"Invalid containerPort: {port}")
    return [f"{port}/{proto}"]


def _run_config(state: _State, cmd: list[str]) -> dict[str, Any]:
    config = _image_config(state)
    config["Cmd"] = cmd
    return config


def _image_config(state: _State) -> dict[str, Any]:
    config = copy.deepcopy(state.config)
    config["Image"] = str(state.image_id) if state.image_id else ""
    config["Hostname"] = ""
    return config


def _short(image_id: Digest | None) -> str:
    return image_id.hex[:12] if image_id is not None else ""


def _stream(text: str) -> dict[str, Any]:
    return {"stream": text}


def _stderr(text: str) -> dict[str, Any]:
    """What the builder writes on its stderr: Docker's stream formatter colours it red."""
    return {"stream": f"\x1b[91m{text}\x1b[0m"}


def build(
    store: Store, context: BuildContext, options: BuildOptions, images: Any, containers: Any
) -> Iterator[dict[str, Any]]:
    """Run a build; yields Docker's build messages. The last message is
    {"aux": {"ID": image}} then the "Successfully ..." lines, or an error message."""
    from dockyard import reference

    builder = Builder(store, context, options, images, containers)
    tags = []
    for tag in options.tags:
        try:
            ref = reference.parse(tag)
        except InvalidArgument as error:
            raise BuildError(f'invalid argument "{tag}" for "-t, --tag" flag: {error}') from None
        tags.append(ref.with_default_tag())
    yield from builder.run()
    image_id = builder.image_id
    yield _stream(f"Successfully built {image_id.hex[:12]}\n")
    for ref in tags:
        store.set_tag(ref, image_id)
        yield _stream(f"Successfully tagged {reference.familiar(str(ref))}\n")


def event_json(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode() + b"\r\n"
