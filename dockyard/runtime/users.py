"""Resolve `-u name|uid[:group|gid]` against the image's /etc/passwd and /etc/group."""

from __future__ import annotations

from dockyard.datarecord import dataclass, field
from dockyard.errors import DockyardError
from dockyard.runtime.securejoin import secure_join


class UserError(DockyardError):
    exit_code = 126


@dataclass
class ExecUser:
    uid: int = 0
    gid: int = 0
    home: str = "/"
    additional_gids: list[int] = field(default_factory=list)


def _read_table(rootfs: str, name: str) -> list[list[str]]:
    try:
        with open(secure_join(rootfs, name), encoding="utf-8", errors="replace") as src:
            return [
                line.rstrip("\n").split(":")
                for line in src
                if line.strip() and not line.startswith("#")
            ]
    except OSError:
        return []


def resolve_user(rootfs: str, spec: str) -> ExecUser:
    """Docker's (runc's) user.GetExecUserPath rules."""
    user_part, _, group_part = (spec or "").partition(":")
    passwd = [row for row in _read_table(rootfs, "/etc/passwd") if len(row) >= 7]
    result = ExecUser()
    entry = None
    if user_part:
        if user_part.isdigit():
            result.uid = int(user_part)
            entry = next((row for row in passwd if row[2] == user_part), None)
        else:
            entry = next((row for row in passwd if row[0] == user_part), None)
            if entry is None:
                raise UserError(
                    f"unable to find user {user_part}: no matching entries in passwd file"
                )
        if entry is not None:
            result.uid = int(entry[2]) if entry[2].isdigit() else result.uid
            result.gid = int(entry[3]) if entry[3].isdigit() else 0
            result.home = entry[5] or "/"
    else:
        entry = next((row for row in passwd if row[2] == "0"), None)
        if entry is not None:
            result.home = entry[5] or "/"
            result.gid = int(entry[3]) if entry[3].isdigit() else 0
    groups = [row for row in _read_table(rootfs, "/etc/group") if len(row) >= 3]
    if group_part:
        if group_part.isdigit():
            result.gid = int(group_part)
        else:
            match = next((row for row in groups if row[0] == group_part), None)
            if match is None:
                raise UserError(
                    f"unable to find group {group_part}: no matching entries in group file"
                )
            result.gid = int(match[2])
    name = entry[0] if entry is not None else None
    result.additional_gids.append(result.gid)  # containerd lists the primary group too
    if name and not group_part:
        for row in groups:
            members = row[3].split(",") if len(row) > 3 else []
            if name in members and row[2].isdigit() and int(row[2]) not in result.additional_gids:
                result.additional_gids.append(int(row[2]))
    return result
