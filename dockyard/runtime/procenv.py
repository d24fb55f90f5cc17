"""The process a container runs: argv, environment, user, working directory."""

from __future__ import annotations

from dockyard.runtime.users import ExecUser

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def container_env(config_env: list[str], hostname: str, tty: bool, user: ExecUser) -> list[str]:
    """Docker's order: PATH (if the image has none), HOSTNAME, TERM (with -t), the config's Env, HOME."""
    env: list[str] = []
    names = {item.split("=", 1)[0] for item in config_env}
    if "PATH" not in names:
        env.append(DEFAULT_PATH)
    env.append(f"HOSTNAME={hostname}")
    if tty:
        env.append("TERM=xterm")
    env.extend(item for item in config_env if not item.startswith(("HOSTNAME=",)) or True)
    if "HOME" not in names:
        env.append(f"HOME={user.home or '/'}")
    # later entries win: drop earlier duplicates
    seen: dict[str, int] = {}
    for index, item in enumerate(env):
        seen[item.split("=", 1)[0]] = index
    return [item for index, item in enumerate(env) if seen[item.split("=", 1)[0]] == index]
