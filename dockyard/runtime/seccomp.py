"""The default seccomp filter of a container, and profiles given with --security-opt.

Docker's default profile allows a long list of system calls and refuses the rest
with EPERM. dockyard writes the complement for containers with Docker's default
capabilities: every system call is allowed except those Docker's profile refuses
to such a container (kernel keyrings, modules, mounts and new namespaces, clocks,
swap, reboot and kexec, raw I/O ports, NUMA policy, perf, bpf, userfaultfd, the
handle-based open that was used in an old container breakout, ...). clone with a
namespace flag is refused too, and clone3 says ENOSYS so that the C library falls
back to clone, whose flags the filter can see (as Docker does).

`--security-opt seccomp=unconfined` turns the filter off;
`--security-opt seccomp=PROFILE.json` uses a profile in Docker's format.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

EPERM = 1
ENOSYS = 38

# System calls Docker's default profile refuses to a container without extra capabilities.
DENIED = (
    # kernel keyrings are not namespaced
    "add_key",
    "keyctl",
    "request_key",
    # kernel modules (CAP_SYS_MODULE)
    "create_module",
    "delete_module",
    "finit_module",
    "get_kernel_syms",
    "init_module",
    "query_module",
    # mounts and namespaces (CAP_SYS_ADMIN)
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "setns",
    "unshare",
    "quotactl",
    "quotactl_fd",
    "swapon",
    "swapoff",
    "lookup_dcookie",
    "fanotify_init",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    # file handles: the open_by_handle_at breakout (CAP_DAC_READ_SEARCH)
    "name_to_handle_at",
    "open_by_handle_at",
    # the clock is not namespaced (CAP_SYS_TIME)
    "clock_adjtime",
    "clock_settime",
    "settimeofday",
    "stime",
    # reboot and kexec (CAP_SYS_BOOT)
    "kexec_file_load",
    "kexec_load",
    "reboot",
    # raw I/O ports (CAP_SYS_RAWIO)
    "ioperm",
    "iopl",
    # NUMA memory policy (CAP_SYS_NICE)
    "get_mempolicy",
    "mbind",
    "move_pages",
    "set_mempolicy",
    "set_mempolicy_home_node",
    # comparing other processes' kernel objects (CAP_SYS_PTRACE)
    "kcmp",
    # accounting, kernel log, hang-up of the terminal
    "acct",
    "syslog",
    "vhangup",
    # obsolete
    "_sysctl",
    "sysfs",
    "uselib",
    "ustat",
    "vm86",
    "vm86old",
    "nfsservctl",
)

# clone flags that create namespaces: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
NAMESPACE_FLAGS = (0x20000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
AF_VSOCK = 40

# Docker's seccomp architecture names, by `uname -m`, with the sub-architectures it adds.
_ARCHES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
    "armv7l": ["SCMP_ARCH_ARM"],
    "ppc64le": ["SCMP_ARCH_PPC64LE"],
    "s390x": ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"],
    "riscv64": ["SCMP_ARCH_RISCV64"],
}


def host_architectures() -> list[str]:
    return list(_ARCHES.get(os.uname().machine, []))


def default_profile() -> dict[str, Any]:
    """The OCI `linux.seccomp` section of the default filter."""
    syscalls: list[dict[str, Any]] = [
        {"names": list(DENIED), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS},
        {
            "names": ["socket"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": EPERM,
            "args": [{"index": 0, "value": AF_VSOCK, "op": "SCMP_CMP_EQ"}],
        },
    ]
    # clone's flags are its first argument, except on s390 where they are the second
    flags_index = 1 if os.uname().machine.startswith("s390") else 0
    for flag in NAMESPACE_FLAGS:
        syscalls.append(
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": EPERM,
                "args": [
                    {
                        "index": flags_index,
                        "value": flag,
                        "valueTwo": flag,
                        "op": "SCMP_CMP_MASKED_EQ",
                    }
                ],
            }
        )
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": host_architectures(),
        "syscalls": syscalls,
    }


class ProfileError(ValueError):
    pass


def _kernel_at_least(version: str) -> bool:
    def parts(text: str) -> tuple[int, ...]:
        numbers = []
        for piece in text.split("-")[0].split(".")[:3]:
            digits = "".join(ch for ch in piece if ch.isdigit())
            numbers.append(int(digits or 0))
        return tuple(numbers)

    return parts(os.uname().release) >= parts(version)


def _applies(entry: dict[str, Any], caps: set[str], arches: list[str]) -> bool:
    includes = entry.get("includes") or {}
    excludes = entry.get("excludes") or {}
    if includes.get("caps") and not set(includes["caps"]) <= caps:
        return False
    if includes.get("arches") and not set(includes["arches"]) & _short_arches(arches):
        return False
    if includes.get("minKernel") and not _kernel_at_least(str(includes["minKernel"])):
        return False
    if excludes.get("caps") and set(excludes["caps"]) & caps:
        return False
    if excludes.get("arches") and set(excludes["arches"]) & _short_arches(arches):
        return False
    return True


def _short_arches(arches: list[str]) -> set[str]:
    """Docker's includes/excludes name architectures as Go does (amd64, arm64, ...)."""
    go = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}
    machine = os.uname().machine
    return {machine, go.get(machine, machine)}


def from_docker_profile(data: dict[str, Any], caps: list[str]) -> dict[str, Any] | None:
    """The OCI seccomp section for a profile in Docker's format (None: no filter)."""
    if not isinstance(data, dict) or "defaultAction" not in data:
        raise ProfileError("decoding seccomp profile failed: missing defaultAction")
    arches: list[str] = []
    native = host_architectures()
    for entry in data.get("archMap") or []:
        if entry.get("architecture") in native[:1]:
            arches = [entry["architecture"], *(entry.get("subArchitectures") or [])]
    if not arches:
        arches = [a for a in data.get("architectures") or [] if a in native] or native
    capset = set(caps)
    syscalls = []
    for entry in data.get("syscalls") or []:
        if not isinstance(entry, dict) or not _applies(entry, capset, arches):
            continue
        names = entry.get("names") or ([entry["name"]] if entry.get("name") else [])
        if not names or not entry.get("action"):
            raise ProfileError("decoding seccomp profile failed: a rule without names or action")
        rule: dict[str, Any] = {"names": list(names), "action": entry["action"]}
        if entry.get("errnoRet") is not None:
            rule["errnoRet"] = entry["errnoRet"]
        if entry.get("args"):
            rule["args"] = [
                {k: v for k, v in arg.items() if k in ("index", "value", "valueTwo", "op")}
                for arg in entry["args"]
            ]
        syscalls.append(rule)
    profile: dict[str, Any] = {
        "defaultAction": data["defaultAction"],
        "architectures": arches,
        "syscalls": syscalls,
    }
    if data.get("defaultErrnoRet") is not None:
        profile["defaultErrnoRet"] = data["defaultErrnoRet"]
    return profile


def profile_for(security_opt: list[str] | None, caps: list[str]) -> dict[str, Any] | None:
    """The seccomp section for a container's HostConfig.SecurityOpt (None: unconfined)."""
    for option in security_opt or []:
        key, sep, value = option.partition("=")
        if not sep:
            key, sep, value = option.partition(":")
        if key != "seccomp":
            continue
        if value == "unconfined":
            return None
        try:
            data = json.loads(value)
        except ValueError:
            raise ProfileError("decoding seccomp profile failed: invalid JSON") from None
        return from_docker_profile(data, caps)
    return default_profile()


def parse_security_opts(options: list[str]) -> list[str]:
    """Check --security-opt values; a seccomp profile file becomes its content, as Docker's
    client sends it."""
    result = []
    for index, option in enumerate(options):
        key, sep, value = option.partition("=")
        if not sep:
            key, sep, value = option.partition(":")
        if key == "no-new-privileges" and (not sep or value in ("true", "false")):
            result.append(option)
            continue
        if not sep or key not in ("seccomp", "apparmor", "label", "systempaths"):
            raise ProfileError(f'invalid --security-opt {index + 1}: "{option}"')
        if key == "seccomp" and value != "unconfined":
            try:
                with open(value, encoding="utf-8") as src:
                    content = src.read()
            except OSError as error:
                raise ProfileError(
                    f"opening seccomp profile ({value}) failed: {error.strerror.lower()}"
                ) from None
            try:
                data = json.loads(content)
            except ValueError:
                raise ProfileError(
                    f"decoding seccomp profile ({value}) failed: invalid JSON"
                ) from None
            from_docker_profile(data, [])  # refuse a malformed profile now
            option = "seccomp=" + json.dumps(data, separators=(",", ":"))
        result.append(option)
    return result
