"""Docker Hub's /v1/search: descriptions, stars (one per user), official flag, ranking."""

from __future__ import annotations

from tests.registry.conftest import USERS
from tests.registry.pushing import push_image

ROOT = ("root", USERS["root"])


def auth(name: str) -> tuple[str, str]:
    return (name, USERS[name])


def test_search_ranks_and_shows_hub_fields(auth_registry, auth_client):
    client = auth_client
    for repo in (
        "library/ubuntu",
        "library/debian",
        "alice/ubuntu-tools",
        "bob/myubuntu",
        "other/thing",
    ):
        push_image(client, repo, "latest", repo, auth=auth("root"))
    for repo, text in (
        ("library/ubuntu", "Ubuntu is a Debian-based Linux operating system"),
        ("library/debian", "Debian is a Linux distribution"),
        ("alice/ubuntu-tools", "tools for ubuntu"),
        ("other/thing", "has nothing to do with it"),
    ):
        assert auth_registry.cli("repo", "set-description", repo, text).returncode == 0
    assert auth_registry.cli("repo", "set-official", "library/ubuntu").returncode == 0
    assert auth_registry.cli("repo", "set-official", "library/debian").returncode == 0

    # stars: alice and bob star alice/ubuntu-tools, alice stars bob/myubuntu (twice: still one)
    for user in ("alice", "bob"):
        reply = client.put("/v1/repositories/alice/ubuntu-tools/star", auth=auth(user))
        assert reply.status == 200, reply.body
    client.put("/v1/repositories/bob/myubuntu/star", auth=auth("alice"))
    reply = client.put("/v1/repositories/bob/myubuntu/star", auth=auth("alice"))
    assert reply.json() == {"name": "bob/myubuntu", "starred": True, "star_count": 1}

    result = client.get("/v1/search?q=ubuntu&n=25").json()
    assert result["num_results"] == 3
    assert result["num_pages"] == 1
    assert result["page"] == 1 and result["page_size"] == 25 and result["query"] == "ubuntu"
    assert result["results"] == [
        {
            "name": "ubuntu",
            "description": "Ubuntu is a Debian-based Linux operating system",
            "star_count": 0,
            "is_official": True,
            "is_automated": False,
        },
        {
            "name": "alice/ubuntu-tools",
            "description": "tools for ubuntu",
            "star_count": 2,
            "is_official": False,
            "is_automated": False,
        },
        {
            "name": "bob/myubuntu",
            "description": "",
            "star_count": 1,
            "is_official": False,
            "is_automated": False,
        },
    ]
    # the description is searched too; pages
    debian = client.get("/v1/search?q=debian").json()
    assert [r["name"] for r in debian["results"]] == ["debian", "ubuntu"]
    page2 = client.get("/v1/search?q=ubuntu&n=2&page=2").json()
    assert page2["num_pages"] == 2 and [r["name"] for r in page2["results"]] == ["bob/myubuntu"]
    assert client.get("/v1/search?q=zzz").json()["results"] == []

    # unstar
    reply = client.delete("/v1/repositories/alice/ubuntu-tools/star", auth=auth("bob"))
    assert reply.json()["star_count"] == 1
    info = client.get("/v1/repositories/alice/ubuntu-tools", auth=auth("alice")).json()
    assert info["star_count"] == 1 and info["starred"] is True

    # stars need a user
    anonymous = client.put("/v1/repositories/library/ubuntu/star")
    assert anonymous.status == 401 and anonymous.codes == ["UNAUTHORIZED"]
    unknown = client.put("/v1/repositories/no/such/star", auth=auth("alice"))
    assert unknown.status == 404


def test_private_repositories_are_hidden_from_search(auth_registry, auth_client):
    client = auth_client
    push_image(client, "alice/secret-ubuntu", "latest", "s", auth=auth("alice"))
    push_image(client, "alice/public-ubuntu", "latest", "p", auth=auth("alice"))
    assert auth_registry.cli("repo", "set-private", "alice/secret-ubuntu").returncode == 0

    def names(**kw):
        return [r["name"] for r in client.get("/v1/search?q=ubuntu", **kw).json()["results"]]

    assert names() == ["alice/public-ubuntu"]
    assert names(auth=auth("bob")) == ["alice/public-ubuntu"]
    assert names(auth=auth("alice")) == ["alice/public-ubuntu", "alice/secret-ubuntu"]
    assert names(auth=auth("root")) == ["alice/public-ubuntu", "alice/secret-ubuntu"]


def test_search_on_an_open_registry(client):
    push_image(client, "library/busybox", "latest", "bb")
    result = client.get("/v1/search?q=busybox").json()
    assert [r["name"] for r in result["results"]] == ["busybox"]
