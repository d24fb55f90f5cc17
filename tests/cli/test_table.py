"""dockyard.cli.table: docker's table / json / raw output, byte for byte.

Expected outputs marked [N] are step N of the real docker transcript
(/work/shared/reference/docker-walkthrough.txt).
"""

from __future__ import annotations

import pytest

from dockyard.cli.gotemplate import TemplateError
from dockyard.cli.table import render_table, row_fields, row_json, tabwrite

IMAGES_FORMAT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_HEADERS = {
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "ID": "IMAGE ID",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "Containers": "CONTAINERS",
}


def image(repo: str, tag: str, image_id: str, created: str, size: str, **extra: str) -> dict:
    return {
        "Repository": repo,
        "Tag": tag,
        "ID": image_id,
        "CreatedSince": created,
        "Size": size,
        **extra,
    }


STEP_13 = [
    image("commit_test", "second", "16769d52c920", "Less than a second ago", "117MB"),
    image("commit_test", "first", "e8b048e7f9e4", "1 second ago", "117MB"),
    image("debian", "bookworm", "c1bd18ffd33c", "34 minutes ago", "117MB"),
    image("busybox", "latest", "8d253af6295e", "34 minutes ago", "1.99MB"),
]


def test_images_step_13() -> None:
    assert render_table(IMAGES_FORMAT, STEP_13, IMAGES_HEADERS) == (
        "REPOSITORY    TAG        IMAGE ID       CREATED                  SIZE\n"
        "commit_test   second     16769d52c920   Less than a second ago   117MB\n"
        "commit_test   first      e8b048e7f9e4   1 second ago             117MB\n"
        "debian        bookworm   c1bd18ffd33c   34 minutes ago           117MB\n"
        "busybox       latest     8d253af6295e   34 minutes ago           1.99MB\n"
    )


def test_images_minwidth_step_15() -> None:
    assert render_table(IMAGES_FORMAT, STEP_13[:2], IMAGES_HEADERS) == (
        "REPOSITORY    TAG       IMAGE ID       CREATED                  SIZE\n"
        "commit_test   second    16769d52c920   Less than a second ago   117MB\n"
        "commit_test   first     e8b048e7f9e4   1 second ago             117MB\n"
    )


def test_images_step_4() -> None:
    rows = STEP_13[2:]
    assert render_table(IMAGES_FORMAT, rows, IMAGES_HEADERS) == (
        "REPOSITORY   TAG        IMAGE ID       CREATED          SIZE\n"
        "debian       bookworm   c1bd18ffd33c   34 minutes ago   117MB\n"
        "busybox      latest     8d253af6295e   34 minutes ago   1.99MB\n"
    )


def test_images_none_step_46() -> None:
    rows = [
        image("commit_test", "second", "16769d52c920", "5 seconds ago", "117MB"),
        image("<none>", "<none>", "e8b048e7f9e4", "6 seconds ago", "117MB"),
        *STEP_13[2:],
    ]
    assert render_table(IMAGES_FORMAT, rows, IMAGES_HEADERS) == (
        "REPOSITORY    TAG        IMAGE ID       CREATED          SIZE\n"
        "commit_test   second     16769d52c920   5 seconds ago    117MB\n"
        "<none>        <none>     e8b048e7f9e4   6 seconds ago    117MB\n"
        "debian        bookworm   c1bd18ffd33c   34 minutes ago   117MB\n"
        "busybox       latest     8d253af6295e   34 minutes ago   1.99MB\n"
    )


def test_images_no_trunc_step_16() -> None:
    ids = [
        "sha256:16769d52c920fe13088a5a8764fd76a1be7166706c698be8a1e0f5bde8029435",
        "sha256:e8b048e7f9e4f7eab8568bd9d3a8e8ffbc94f2c012840b9f8a4edb0ba5a82d8e",
        "sha256:c1bd18ffd33ce583462d001b2f4ace1c5b9ad50fd58e61ff99fe46341c514eb9",
        "sha256:8d253af6295e79bb7c79e04a3cf217654cdc28cbca2c5cb84cc1bf79c7521bee",
    ]
    created = ["1 second ago", "2 seconds ago", "34 minutes ago", "34 minutes ago"]
    rows = [
        {**row, "ID": i, "CreatedSince": c} for row, i, c in zip(STEP_13, ids, created, strict=True)
    ]
    assert render_table(IMAGES_FORMAT, rows, IMAGES_HEADERS) == (
        "REPOSITORY    TAG        IMAGE ID                                                                  CREATED          SIZE\n"
        "commit_test   second     sha256:16769d52c920fe13088a5a8764fd76a1be7166706c698be8a1e0f5bde8029435   1 second ago     117MB\n"
        "commit_test   first      sha256:e8b048e7f9e4f7eab8568bd9d3a8e8ffbc94f2c012840b9f8a4edb0ba5a82d8e   2 seconds ago    117MB\n"
        "debian        bookworm   sha256:c1bd18ffd33ce583462d001b2f4ace1c5b9ad50fd58e61ff99fe46341c514eb9   34 minutes ago   117MB\n"
        "busybox       latest     sha256:8d253af6295e79bb7c79e04a3cf217654cdc28cbca2c5cb84cc1bf79c7521bee   34 minutes ago   1.99MB\n"
    )


def test_images_digests_step_17() -> None:
    fmt = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    created = ["1 second ago", "2 seconds ago", "34 minutes ago", "34 minutes ago"]
    rows = [
        {**row, "Digest": "<none>", "CreatedSince": c}
        for row, c in zip(STEP_13, created, strict=True)
    ]
    assert render_table(fmt, rows, IMAGES_HEADERS) == (
        "REPOSITORY    TAG        DIGEST    IMAGE ID       CREATED          SIZE\n"
        "commit_test   second     <none>    16769d52c920   1 second ago     117MB\n"
        "commit_test   first      <none>    e8b048e7f9e4   2 seconds ago    117MB\n"
        "debian        bookworm   <none>    c1bd18ffd33c   34 minutes ago   117MB\n"
        "busybox       latest     <none>    8d253af6295e   34 minutes ago   1.99MB\n"
    )


def test_images_many_repositories_step_193() -> None:
    data = [
        ("commit_test", "it", "7d870cb7a6b0", "2 seconds ago", "117MB"),
        ("filler", "1", "fde3eac05b86", "21 seconds ago", "117MB"),
        ("empty", "1", "d76a10051480", "22 seconds ago", "0B"),
        ("dangle", "x", "ef86eb496866", "29 seconds ago", "117MB"),
        ("exported", "changes", "f8bb8746b605", "38 seconds ago", "117MB"),
        ("exported", "stdin", "1dd978124169", "46 seconds ago", "117MB"),
        ("exported", "latest", "0d4a74773386", "48 seconds ago", "117MB"),
        ("127.0.0.1:5000/debian", "bookworm", "c1bd18ffd33c", "35 minutes ago", "117MB"),
        ("debian", "bookworm", "c1bd18ffd33c", "35 minutes ago", "117MB"),
        ("someuser/debian", "12", "c1bd18ffd33c", "35 minutes ago", "117MB"),
        ("busybox", "latest", "8d253af6295e", "35 minutes ago", "1.99MB"),
    ]
    rows = [image(*row) for row in data]
    assert render_table(IMAGES_FORMAT, rows, IMAGES_HEADERS) == (
        "REPOSITORY              TAG        IMAGE ID       CREATED          SIZE\n"
        "commit_test             it         7d870cb7a6b0   2 seconds ago    117MB\n"
        "filler                  1          fde3eac05b86   21 seconds ago   117MB\n"
        "empty                   1          d76a10051480   22 seconds ago   0B\n"
        "dangle                  x          ef86eb496866   29 seconds ago   117MB\n"
        "exported                changes    f8bb8746b605   38 seconds ago   117MB\n"
        "exported                stdin      1dd978124169   46 seconds ago   117MB\n"
        "exported                latest     0d4a74773386   48 seconds ago   117MB\n"
        "127.0.0.1:5000/debian   bookworm   c1bd18ffd33c   35 minutes ago   117MB\n"
        "debian                  bookworm   c1bd18ffd33c   35 minutes ago   117MB\n"
        "someuser/debian         12         c1bd18ffd33c   35 minutes ago   117MB\n"
        "busybox                 latest     8d253af6295e   35 minutes ago   1.99MB\n"
    )


def test_images_json_step_18() -> None:
    rows = [
        {
            "Containers": "N/A",
            "CreatedAt": "2026-11-28 17:21:50 +0000 UTC",
            "CreatedSince": "1 second ago",
            "Digest": "<none>",
            "ID": "16769d52c920",
            "Repository": "commit_test",
            "SharedSize": "N/A",
            "Size": "117MB",
            "Tag": "second",
            "UniqueSize": "N/A",
            "VirtualSize": "116.6MB",
        },
        {
            # keys in another order: the output is sorted anyway
            "VirtualSize": "1.986MB",
            "Tag": "latest",
            "Size": "1.99MB",
            "Repository": "busybox",
            "ID": "8d253af6295e",
            "Digest": "<none>",
            "CreatedSince": "34 minutes ago",
            "CreatedAt": "2026-11-28 16:47:26 +0000 UTC",
            "Containers": "N/A",
            "SharedSize": "N/A",
            "UniqueSize": "N/A",
        },
    ]
    assert render_table("json", rows, IMAGES_HEADERS) == (
        '{"Containers":"N/A","CreatedAt":"2026-11-28 17:21:50 +0000 UTC","CreatedSince":"1 second ago","Digest":"\\u003cnone\\u003e","ID":"16769d52c920","Repository":"commit_test","SharedSize":"N/A","Size":"117MB","Tag":"second","UniqueSize":"N/A","VirtualSize":"116.6MB"}\n'
        '{"Containers":"N/A","CreatedAt":"2026-11-28 16:47:26 +0000 UTC","CreatedSince":"34 minutes ago","Digest":"\\u003cnone\\u003e","ID":"8d253af6295e","Repository":"busybox","SharedSize":"N/A","Size":"1.99MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"1.986MB"}\n'
    )


HISTORY_FORMAT = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}


def history(image_id: str, created: str, by: str, size: str, comment: str) -> dict:
    return {
        "ID": image_id,
        "CreatedSince": created,
        "CreatedBy": by,
        "Size": size,
        "Comment": comment,
    }


def test_history_step_29_empty_column() -> None:
    rows = [history("c1bd18ffd33c", "34 minutes ago", "", "117MB", "Imported from -")]
    assert render_table(HISTORY_FORMAT, rows, HISTORY_HEADERS) == (
        "IMAGE          CREATED          CREATED BY   SIZE      COMMENT\n"
        "c1bd18ffd33c   34 minutes ago                117MB     Imported from -\n"
    )


def test_history_step_33() -> None:
    rows = [
        history(
            "16769d52c920",
            "3 seconds ago",
            "sh -c echo second_test! >> second",
            "13B",
            "my second commit",
        ),
        history(
            "e8b048e7f9e4",
            "4 seconds ago",
            "sh -c echo first_test! >> first",
            "12B",
            "my first commit",
        ),
        history("c1bd18ffd33c", "34 minutes ago", "", "117MB", "Imported from -"),
    ]
    assert render_table(HISTORY_FORMAT, rows, HISTORY_HEADERS) == (
        "IMAGE          CREATED          CREATED BY                          SIZE      COMMENT\n"
        "16769d52c920   3 seconds ago    sh -c echo second_test! >> second   13B       my second commit\n"
        "e8b048e7f9e4   4 seconds ago    sh -c echo first_test! >> first     12B       my first commit\n"
        "c1bd18ffd33c   34 minutes ago                                       117MB     Imported from -\n"
    )


def test_history_exact_step_37() -> None:
    fmt = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    rows = [
        {
            "ID": "16769d52c920",
            "CreatedAt": "2026-11-28T17:21:50Z",
            "CreatedBy": "sh -c echo second_test! >> second",
            "Size": "13",
            "Comment": "my second commit",
        },
        {
            "ID": "e8b048e7f9e4",
            "CreatedAt": "2026-11-28T17:21:49Z",
            "CreatedBy": "sh -c echo first_test! >> first",
            "Size": "12",
            "Comment": "my first commit",
        },
        {
            "ID": "c1bd18ffd33c",
            "CreatedAt": "2026-11-28T16:47:27Z",
            "CreatedBy": "",
            "Size": "116609356",
            "Comment": "Imported from -",
        },
    ]
    assert render_table(fmt, rows, HISTORY_HEADERS) == (
        "IMAGE          CREATED AT             CREATED BY                          SIZE        COMMENT\n"
        "16769d52c920   2026-11-28T17:21:50Z   sh -c echo second_test! >> second   13          my second commit\n"
        "e8b048e7f9e4   2026-11-28T17:21:49Z   sh -c echo first_test! >> first     12          my first commit\n"
        "c1bd18ffd33c   2026-11-28T16:47:27Z                                       116609356   Imported from -\n"
    )


def test_history_custom_format_step_39() -> None:
    rows = [
        history("16769d52c920", "", "sh -c echo second_test! >> second", "13B", "my second commit"),
        history("c1bd18ffd33c", "", "", "117MB", "Imported from -"),
    ]
    fmt = "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}"
    assert render_table(fmt, rows, HISTORY_HEADERS) == (
        "16769d52c920|sh -c echo second_test! >> second|13B|my second commit\n"
        "c1bd18ffd33c||117MB|Imported from -\n"
    )


PS_FORMAT = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)
PS_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "RunningFor": "CREATED",
    "Status": "STATUS",
    "Ports": "PORTS",
    "Names": "NAMES",
    "LocalVolumes": "LOCAL VOLUMES",
    "Size": "SIZE",
}


class Container:
    """Rows may be objects whose fields are methods, like docker's contexts."""

    def __init__(self, *values: str) -> None:
        self.values = values

    def ID(self) -> str:  # noqa: N802 - Go field names
        return self.values[0]

    def Image(self) -> str:  # noqa: N802
        return self.values[1]

    def Command(self) -> str:  # noqa: N802
        return self.values[2]

    def RunningFor(self) -> str:  # noqa: N802
        return self.values[3]

    def Status(self) -> str:  # noqa: N802
        return self.values[4]

    def Ports(self) -> str:  # noqa: N802
        return ""

    def Names(self) -> str:  # noqa: N802
        return self.values[5]

    def Label(self, name: str) -> str:  # noqa: N802 - has an argument: not a JSON field
        return ""


def test_ps_step_6_unicode_ellipsis() -> None:
    rows = [
        Container(
            "2e41f5156052",
            "debian:bookworm",
            '"sh -c \'echo first_t…"',
            "1 second ago",
            "Exited (0) Less than a second ago",
            "commit_test",
        )
    ]
    assert render_table(PS_FORMAT, rows, PS_HEADERS) == (
        "CONTAINER ID   IMAGE             COMMAND                  CREATED        STATUS                              PORTS     NAMES\n"
        '2e41f5156052   debian:bookworm   "sh -c \'echo first_t…"   1 second ago   Exited (0) Less than a second ago             commit_test\n'
    )


def test_ps_step_192() -> None:
    rows = [
        Container(
            "ebe58dd34601",
            "busybox:latest",
            '"sh -c \'sleep 2; exi…"',
            "2 seconds ago",
            "Exited (7) Less than a second ago",
            "att",
        ),
        Container(
            "edb04575197a",
            "debian:bookworm",
            '"bash"',
            "17 seconds ago",
            "Exited (7) 4 seconds ago",
            "it_test",
        ),
        Container(
            "70137b5f9206",
            "7f8994aa5e0f",
            '"true"',
            "33 seconds ago",
            "Exited (0) 32 seconds ago",
            "stopped",
        ),
        Container(
            "2e41f5156052",
            "debian:bookworm",
            '"sh -c \'echo first_t…"',
            "About a minute ago",
            "Exited (0) About a minute ago",
            "commit_test",
        ),
    ]
    assert render_table(PS_FORMAT, rows, PS_HEADERS) == (
        "CONTAINER ID   IMAGE             COMMAND                  CREATED              STATUS                              PORTS     NAMES\n"
        'ebe58dd34601   busybox:latest    "sh -c \'sleep 2; exi…"   2 seconds ago        Exited (7) Less than a second ago             att\n'
        'edb04575197a   debian:bookworm   "bash"                   17 seconds ago       Exited (7) 4 seconds ago                      it_test\n'
        '70137b5f9206   7f8994aa5e0f      "true"                   33 seconds ago       Exited (0) 32 seconds ago                     stopped\n'
        '2e41f5156052   debian:bookworm   "sh -c \'echo first_t…"   About a minute ago   Exited (0) About a minute ago                 commit_test\n'
    )


def test_raw_format_with_escaped_tab_step_196() -> None:
    rows = [
        Container("", "busybox:latest", "", "", "", "att"),
        Container("", "c1bd18ffd33c", "", "", "", "it_test"),
    ]
    # the shell passes a backslash and a t; docker turns it into a tab, no alignment
    assert render_table(r"{{.Names}}\t{{.Image}}", rows, PS_HEADERS) == (
        "att\tbusybox:latest\nit_test\tc1bd18ffd33c\n"
    )


def test_raw_format_step_118() -> None:
    rows = [
        Container("", "7f8994aa5e0f", "", "", "Up Less than a second", "runner"),
        Container("", "debian:bookworm", "", "", "Exited (0) 37 seconds ago", "commit_test"),
    ]
    assert render_table("{{.Names}} {{.Image}} {{.Status}}", rows, PS_HEADERS) == (
        "runner 7f8994aa5e0f Up Less than a second\n"
        "commit_test debian:bookworm Exited (0) 37 seconds ago\n"
    )


def test_system_df_step_141() -> None:
    fmt = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
    headers = {
        "Type": "TYPE",
        "TotalCount": "TOTAL",
        "Active": "ACTIVE",
        "Size": "SIZE",
        "Reclaimable": "RECLAIMABLE",
    }
    rows = [
        {
            "Type": "Images",
            "TotalCount": 6,
            "Active": 1,
            "Size": "235.2MB",
            "Reclaimable": "235.2MB (100%)",
        },
        {
            "Type": "Containers",
            "TotalCount": 3,
            "Active": 0,
            "Size": "302B",
            "Reclaimable": "302B (100%)",
        },
        {"Type": "Local Volumes", "TotalCount": 0, "Active": 0, "Size": "0B", "Reclaimable": "0B"},
        {"Type": "Build Cache", "TotalCount": 0, "Active": 0, "Size": "0B", "Reclaimable": "0B"},
    ]
    assert render_table(fmt, rows, headers) == (
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n"
        "Images          6         1         235.2MB   235.2MB (100%)\n"
        "Containers      3         0         302B      302B (100%)\n"
        "Local Volumes   0         0         0B        0B\n"
        "Build Cache     0         0         0B        0B\n"
    )


def test_system_df_verbose_images_step_142() -> None:
    fmt = (
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
        "\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"
    )
    data = [
        ("dangle", "x", "ef86eb496866", "3 seconds ago", "117MB", "116.6MB", "12B", "0"),
        ("exported", "changes", "f8bb8746b605", "13 seconds ago", "117MB", "116.6MB", "0B", "0"),
        ("exported", "stdin", "1dd978124169", "21 seconds ago", "117MB", "116.6MB", "0B", "0"),
        ("exported", "latest", "0d4a74773386", "23 seconds ago", "117MB", "116.6MB", "0B", "0"),
        (
            "127.0.0.1:5000/debian",
            "bookworm",
            "c1bd18ffd33c",
            "35 minutes ago",
            "117MB",
            "116.6MB",
            "0B",
            "2",
        ),
        ("busybox", "latest", "8d253af6295e", "35 minutes ago", "1.99MB", "0B", "1.986MB", "0"),
    ]
    rows = [
        image(r, t, i, c, s, SharedSize=sh, UniqueSize=u, Containers=n)
        for r, t, i, c, s, sh, u, n in data
    ]
    assert render_table(fmt, rows, IMAGES_HEADERS) == (
        "REPOSITORY              TAG        IMAGE ID       CREATED          SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS\n"
        "dangle                  x          ef86eb496866   3 seconds ago    117MB     116.6MB       12B           0\n"
        "exported                changes    f8bb8746b605   13 seconds ago   117MB     116.6MB       0B            0\n"
        "exported                stdin      1dd978124169   21 seconds ago   117MB     116.6MB       0B            0\n"
        "exported                latest     0d4a74773386   23 seconds ago   117MB     116.6MB       0B            0\n"
        "127.0.0.1:5000/debian   bookworm   c1bd18ffd33c   35 minutes ago   117MB     116.6MB       0B            2\n"
        "busybox                 latest     8d253af6295e   35 minutes ago   1.99MB    0B            1.986MB       0\n"
    )


def test_system_df_verbose_containers_step_142() -> None:
    fmt = (
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}"
        "\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"
    )
    data = [
        (
            "b687e4532d01",
            "debian:bookworm",
            '"sh -c \'rm /etc/issu…"',
            "0",
            "290B",
            "3 seconds ago",
            "Exited (0) 2 seconds ago",
            "difftest",
        ),
        (
            "70137b5f9206",
            "7f8994aa5e0f",
            '"true"',
            "0",
            "0B",
            "8 seconds ago",
            "Exited (0) 6 seconds ago",
            "stopped",
        ),
        (
            "2e41f5156052",
            "debian:bookworm",
            '"sh -c \'echo first_t…"',
            "0",
            "12B",
            "47 seconds ago",
            "Exited (0) 45 seconds ago",
            "commit_test",
        ),
    ]
    keys = ("ID", "Image", "Command", "LocalVolumes", "Size", "RunningFor", "Status", "Names")
    rows = [dict(zip(keys, row, strict=True)) for row in data]
    assert render_table(fmt, rows, PS_HEADERS) == (
        "CONTAINER ID   IMAGE             COMMAND                  LOCAL VOLUMES   SIZE      CREATED          STATUS                      NAMES\n"
        'b687e4532d01   debian:bookworm   "sh -c \'rm /etc/issu…"   0               290B      3 seconds ago    Exited (0) 2 seconds ago    difftest\n'
        '70137b5f9206   7f8994aa5e0f      "true"                   0               0B        8 seconds ago    Exited (0) 6 seconds ago    stopped\n'
        '2e41f5156052   debian:bookworm   "sh -c \'echo first_t…"   0               12B       47 seconds ago   Exited (0) 45 seconds ago   commit_test\n'
    )


def test_header_only_tables_step_142() -> None:
    volumes = render_table(
        "table {{.Name}}\t{{.Links}}\t{{.Size}}",
        [],
        {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"},
    )
    assert volumes == "VOLUME NAME   LINKS     SIZE\n"
    cache = render_table(
        "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}"
        "\t{{.UsageCount}}\t{{.Shared}}",
        [],
        {
            "ID": "CACHE ID",
            "CacheType": "CACHE TYPE",
            "Size": "SIZE",
            "CreatedSince": "CREATED",
            "LastUsedSince": "LAST USED",
            "UsageCount": "USAGE",
            "Shared": "SHARED",
        },
    )
    assert cache == "CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n"


def test_table_header_uses_header_functions() -> None:
    fmt = "table {{.Repository | upper}}\t{{json .Tag}}\t{{truncate .ID 3}}"
    rows = [image("busybox", "latest", "8d253af6295e", "", "")]
    assert render_table(fmt, rows, IMAGES_HEADERS) == (
        'REPOSITORY   TAG        IMAGE ID\nBUSYBOX      "latest"   8d2\n'
    )


def test_table_without_tabs_and_unknown_header() -> None:
    rows = [image("busybox", "latest", "8d253af6295e", "", "")]
    assert render_table("table {{.Repository}}:{{.Nope}}", rows, IMAGES_HEADERS) == (
        "REPOSITORY:<no value>\nbusybox:<no value>\n"
    )


def test_table_prefix_spaces_and_newline_escape() -> None:
    rows = [image("a", "b", "", "", "")]
    assert render_table("table   {{.Repository}}\\n{{.Tag}}  ", rows, IMAGES_HEADERS) == (
        "REPOSITORY\nTAG\na\nb\n"
    )


def test_template_errors() -> None:
    with pytest.raises(TemplateError) as info:
        render_table("table {{.Repository", [], IMAGES_HEADERS)
    assert str(info.value) == "template parsing error: template: :1: unclosed action"
    with pytest.raises(TemplateError) as info:
        render_table("{{.Repository.X}}", [image("a", "b", "", "", "")], IMAGES_HEADERS)
    assert str(info.value) == (
        'template parsing error: template: :1:2: executing "" at <.Repository.X>: '
        "can't evaluate field X in type string"
    )


def test_row_fields_of_objects() -> None:
    fields = row_fields(Container("id", "img", "cmd", "now", "up", "name"))
    assert fields["ID"] == "id"
    assert fields["Names"] == "name"
    assert "Label" not in fields  # takes an argument
    assert "values" in fields
    assert row_json({"b": "<x>", "a": 1}) == '{"a":1,"b":"\\u003cx\\u003e"}'


# --- tabwriter -------------------------------------------------------------------


def test_tabwriter_column_blocks() -> None:
    # Go's doc example: b and c are in different column blocks.
    text = "aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n"
    assert tabwrite(text, minwidth=0, padding=1) == (
        "aaaa bbb d\naa   b   dd\na    \naa   cccc eee\n"
    )


def test_tabwriter_line_without_tabs_breaks_blocks() -> None:
    text = "a\tb\nheading\nlonger-cell\tc\n"
    assert tabwrite(text) == "a         b\nheading\nlonger-cell   c\n"


def test_tabwriter_form_feed_flushes() -> None:
    assert tabwrite("a\tb\fccccccccccc\td\n") == "a         b\nccccccccccc   d\n"
    # without the form feed the two lines share one column block
    assert tabwrite("a\tb\nccccccccccc\td\n") == "a             b\nccccccccccc   d\n"


def test_tabwriter_trailing_tab_and_no_final_newline() -> None:
    assert tabwrite("a\t") == "a         "
    assert tabwrite("a\tb") == "a         b"
    assert tabwrite("") == ""


def test_tabwriter_wide_characters() -> None:
    # go-runewidth: CJK ideographs take two columns
    assert tabwrite("日本\tx\nab\ty\n") == "日本      x\nab        y\n"
