"""`--change` instructions (CMD, ENV, ...) applied to a container config, as Docker's
dockerfile.BuildFromConfig does for `import` and `commit`."""

from __future__ import annotations

import json
import posixpath

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

ALLOWED = (
    "cmd",
    "entrypoint",
    "env",
    "expose",
    "label",
    "onbuild",
    "stopsignal",
    "user",
    "volume",
    "workdir",
)

# Docker's container.Config fields in the order its JSON encoder writes them.
CONFIG_FIELDS: tuple[tuple[str, Any], ...] = (
    ("Hostname", ""),
    ("Domainname", ""),
    ("User", ""),
    ("AttachStdin", False),
    ("AttachStdout", False),
    ("AttachStderr", False),
    ("ExposedPorts", None),
    ("Tty", False),
    ("OpenStdin", False),
    ("StdinOnce", False),
    ("Env", None),
    ("Cmd", None),
    ("Healthcheck", None),
    ("ArgsEscaped", None),
    ("Image", ""),
    ("Volumes", None),
    ("WorkingDir", ""),
    ("Entrypoint", None),
    ("NetworkDisabled", None),
    ("MacAddress", None),
    ("OnBuild", None),
    ("Labels", None),
    ("StopSignal", None),
    ("StopTimeout", None),
    ("Shell", None),
)
OMIT_WHEN_EMPTY = {
    "ExposedPorts",
    "Healthcheck",
    "ArgsEscaped",
    "NetworkDisabled",
    "MacAddress",
    "StopSignal",
    "StopTimeout",
    "Shell",
}


def normalize_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """A container config with Docker's field order and defaults (omitempty fields dropped)."""
    config = config or {}
    result: dict[str, Any] = {}
    for name, default in CONFIG_FIELDS:
        value = config.get(name, default)
        if name in OMIT_WHEN_EMPTY and not value:
            continue
        result[name] = value
    return result


def _json_or_shell(argument: str) -> list[str]:
    text = argument.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", text]


def _key_values(instruction: str, argument: str) -> list[tuple[str, str]]:
    import shlex  # only for --change instructions (start-up time)

    try:
        words = shlex.split(argument)
    except ValueError as error:
        raise InvalidArgument(f"{instruction}: {error}") from None
    if not words:
        raise InvalidArgument(f"{instruction} requires at least one argument")
    if "=" not in words[0]:
        if instruction == "LABEL":
            raise InvalidArgument("LABEL requires at least one argument")
        parts = argument.strip().split(None, 1)
        if len(parts) != 2:
            raise InvalidArgument(f"{instruction} must have two arguments")
        return [(parts[0], parts[1])]
    pairs = []
    for word in words:
        if "=" not in word:
            raise InvalidArgument(
                f'Syntax error - can\'t find = in "{word}". Must be of the form: name=value'
            )
        key, value = word.split("=", 1)
        pairs.append((key, value))
    return pairs


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Apply Dockerfile instructions to a config (a new dict is returned)."""
    config = dict(config)
    cmd_set = False
    for change in changes:
        text = change.strip()
        if not text:
            continue
        instruction, _, argument = text.partition(" ")
        if "\t" in instruction:
            instruction, _, rest = instruction.partition("\t")
            argument = rest + " " + argument
        lowered = instruction.lower()
        if lowered not in ALLOWED:
            raise InvalidArgument(f"{lowered} is not a valid change command")
        argument = argument.strip()
        if lowered == "cmd":
            config["Cmd"] = _json_or_shell(argument)
            cmd_set = True
        elif lowered == "entrypoint":
            config["Entrypoint"] = _json_or_shell(argument) if argument else None
            if not cmd_set:
                config["Cmd"] = None
        elif lowered == "env":
            env = list(config.get("Env") or [])
            for key, value in _key_values("ENV", argument):
                env = [e for e in env if e.split("=", 1)[0] != key]
                env.append(f"{key}={value}")
            config["Env"] = env
        elif lowered == "label":
            labels = dict(config.get("Labels") or {})
            for key, value in _key_values("LABEL", argument):
                labels[key] = value
            config["Labels"] = labels
        elif lowered == "expose":
            ports = dict(config.get("ExposedPorts") or {})
            for port in argument.split():
                ports[port if "/" in port else f"{port}/tcp"] = {}
            config["ExposedPorts"] = ports
        elif lowered == "volume":
            volumes = dict(config.get("Volumes") or {})
            paths = _json_or_shell(argument)
            if paths[:2] == ["/bin/sh", "-c"]:
                paths = argument.split()
            for path in paths:
                volumes[path] = {}
            config["Volumes"] = volumes
        elif lowered == "workdir":
            current = config.get("WorkingDir") or "/"
            config["WorkingDir"] = posixpath.normpath(posixpath.join(current, argument))
        elif lowered == "user":
            config["User"] = argument
        elif lowered == "stopsignal":
            config["StopSignal"] = argument
        elif lowered == "onbuild":
            config["OnBuild"] = [*(config.get("OnBuild") or []), argument]
    return config
