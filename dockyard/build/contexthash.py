"""The content checksums Docker 20.10's classic builder puts in COPY/ADD cache keys and
history (`COPY file:<sum> in /dst`): a tarsum (version 1) header of each entry, mtime
left out, followed by a regular file's bytes; a directory is the sum of its entries'
sums, several sources the sum of theirs (builder/dockerfile/copy.go, remotecontext).

An entry's sum is that of the path it resolves to (symlinks followed inside the root:
"the file that is actually copied"). Context files are summed from the headers of the
context tar (Docker's tarsum: user and group names blanked, the mode as the tar's header
has it: the docker CLI writes the file type bits into it, Python's tarfile does not); an
image's files (COPY --from) from a header Docker makes of the file, with user and group
names from the host's databases."""

from __future__ import annotations

import hashlib
import os
import stat


def _names(uid: int, gid: int) -> tuple[str, str]:
    import grp
    import pwd

    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = ""
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = ""
    return user, group


HOST = "host"  # an image's tree: names from this machine's user and group databases
# headers: HOST, or {relative path: mode} as the context tar's headers carry it (the
# docker CLI writes the file's st_mode), or None (the file's st_mode)
Headers = str | dict[str, int] | None


def entry_sum(root: str, rel: str, headers: Headers = None) -> str | None:
    """The sum of one entry (rel: its path relative to the source's root, no leading /);
    None when it resolves to nothing."""
    from dockyard.runtime.securejoin import secure_join

    path = secure_join(root, rel)
    if not os.path.lexists(path):
        return None
    rel = os.path.relpath(path, root)
    st = os.lstat(path)
    mode = st.st_mode
    link = os.readlink(path) if stat.S_ISLNK(mode) else ""
    if stat.S_ISDIR(mode):
        typeflag, size, name = "5", 0, rel + "/"
    elif stat.S_ISLNK(mode):
        typeflag, size, name = "2", 0, rel
    elif stat.S_ISREG(mode):
        typeflag, size, name = "0", st.st_size, rel
    else:
        typeflag, size, name = (
            {stat.S_IFCHR: "3", stat.S_IFBLK: "4", stat.S_IFIFO: "6"}.get(stat.S_IFMT(mode), "0"),
            0,
            rel,
        )
    major = minor = 0
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    uname, gname = _names(st.st_uid, st.st_gid) if headers == HOST else ("", "")
    header_mode = stat.S_IFMT(mode) | stat.S_IMODE(mode)
    if isinstance(headers, dict):
        if rel not in headers:
            return rel  # no header in the context tar: Docker's Hash() answers the path
        header_mode = headers[rel]
    digest = hashlib.sha256()
    for key, value in (
        ("name", name),
        ("mode", str(header_mode)),
        ("uid", str(st.st_uid)),
        ("gid", str(st.st_gid)),
        ("size", str(size)),
        ("typeflag", typeflag),
        ("linkname", link),
        ("uname", uname),
        ("gname", gname),
        ("devmajor", str(major)),
        ("devminor", str(minor)),
    ):
        digest.update((key + value).encode())
    if stat.S_ISREG(mode) and st.st_size > 0:
        with open(path, "rb") as source:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def hash_strings(prefix: str, sums: list[str]) -> str:
    return prefix + ":" + hashlib.sha256(",".join(sums).encode()).hexdigest()


def source_sum(root: str, rel: str, headers: Headers = None) -> str:
    """`file:<sum>` for a file, `dir:<sum>` for a directory (its entries, itself included
    unless it is the root)."""
    path = os.path.join(root, rel) if rel not in ("", ".") else root
    if not os.path.isdir(path) or os.path.islink(path):
        return "file:" + (entry_sum(root, rel, headers) or rel)
    sums = []
    top = "" if rel in ("", ".") else rel
    entries = [top] if top else []
    for current, dirs, files in os.walk(path):
        entries += [os.path.relpath(os.path.join(current, n), root) for n in dirs + files]
    for entry in entries:
        value = entry_sum(root, entry, headers)
        if value is not None:
            sums.append(value)
    sums.sort()
    return hash_strings("dir", sums)
