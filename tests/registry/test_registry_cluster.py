"""Two nodes are one registry: what one node was told, the other knows.

Each test talks to the nodes directly (node0 and node1, not the balancer) so that every
step provably crosses from one process to the other.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from urllib.parse import urlencode

import pytest

from tests.registry.conftest import USERS, Client, emptied_cluster
from tests.registry.pushing import OCI_MANIFEST, digest_of, push_blob, push_image

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def visible_text(html: bytes) -> str:
    return " ".join(re.sub(r"<[^>]*>", " ", html.decode()).split())


def creds(name: str) -> tuple[str, str]:
    return (name, USERS[name])


@pytest.fixture
def open_cluster(request):
    return emptied_cluster(request, {})


@pytest.fixture
def auth_cluster(request):
    return emptied_cluster(request, USERS)


@pytest.fixture
def nodes(registry_cluster):
    a, b = (Client(node.url) for node in registry_cluster.nodes[:2])
    yield a, b
    a.close()
    b.close()


def test_push_through_one_node_pull_through_the_other(open_cluster, nodes):
    a, b = nodes
    digest, manifest, blobs = push_image(a, "team/app", "v1", "cross", layers=3)
    got = b.get("/v2/team/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert got.status == 200 and got.body == manifest
    assert got.headers["Docker-Content-Digest"] == digest
    for blob in blobs:
        reply = b.get(f"/v2/team/app/blobs/{digest_of(blob)}")
        assert reply.status == 200 and digest_of(reply.body) == digest_of(blob)
    assert b.get("/v2/team/app/tags/list").json() == {"name": "team/app", "tags": ["v1"]}
    assert b.get("/v2/_catalog").json() == {"repositories": ["team/app"]}
    # a mount asked of the other node finds the blob the first node linked
    mount = b.post(f"/v2/other/app/blobs/uploads/?mount={digest_of(blobs[1])}&from=team/app")
    assert mount.status == 201
    # deleting through one node is seen by the other
    assert a.delete("/v2/team/app/manifests/v1").status == 202
    assert b.get("/v2/team/app/manifests/v1").status == 404


def test_an_upload_started_on_one_node_continues_and_ends_on_the_other(open_cluster, nodes):
    a, b = nodes
    data = os.urandom(3 << 20)
    location = a.post("/v2/up/blobs/uploads/").headers["Location"]
    reply = a.patch(location, data=data[: 1 << 20], headers={"Content-Range": f"0-{(1 << 20) - 1}"})
    assert reply.status == 202
    assert b.get(location).headers["Range"] == f"0-{(1 << 20) - 1}"
    reply = b.patch(
        location,
        data=data[1 << 20 : 2 << 20],
        headers={"Content-Range": f"{1 << 20}-{(2 << 20) - 1}"},
    )
    assert reply.status == 202 and reply.headers["Range"] == f"0-{(2 << 20) - 1}"
    # a chunk that does not follow on, sent to the first node, is refused with the true range
    stale = a.patch(location, data=data[:10], headers={"Content-Range": "0-9"})
    assert stale.status == 416 and stale.headers["Range"] == f"0-{(2 << 20) - 1}"
    done = a.put(f"{location}?digest={digest_of(data)}", data=data[2 << 20 :])
    assert done.status == 201
    assert b.get(f"/v2/up/blobs/{digest_of(data)}").body == data
    # a cancelled session is unknown to both
    other = b.post("/v2/up/blobs/uploads/").headers["Location"]
    assert a.delete(other).status == 204
    assert b.get(other).status == 404


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_tokens_accounts_and_grants_are_shared(auth_cluster, nodes):
    a, b = nodes
    push_image(a, "alice/secret", "v1", "s", auth=creds("alice"))
    assert auth_cluster.cli("repo", "set-private", "alice/secret").returncode == 0
    # a token signed by node0 is good on node1 (one signing key)
    reply = a.get(
        "/token?service=dockyard-registry&scope=repository:alice/secret:pull,push",
        auth=creds("alice"),
    )
    token = reply.json()["token"]
    assert _claims(token)["sub"] == "alice"
    assert b.get("/v2/alice/secret/manifests/v1", auth=token).status == 200
    assert b.post("/v2/alice/secret/blobs/uploads/", auth=token).status == 202
    # an account added by the admin command signs in on both nodes
    assert b.get("/v2/", auth=("carol", "carol-pw")).status == 401
    added = auth_cluster.cli("user", "add", "carol", "--password-stdin", input="carol-pw\n")
    assert added.returncode == 0, added.stderr
    for client in (a, b):
        assert client.get("/v2/", auth=("carol", "carol-pw")).status == 200
    # a grant is honoured by both
    for client in (a, b):
        assert client.get("/v2/alice/secret/manifests/v1", auth=creds("bob")).status == 403
    assert auth_cluster.cli("repo", "grant", "alice/secret", "bob", "pull").returncode == 0
    for client in (a, b):
        assert client.get("/v2/alice/secret/manifests/v1", auth=creds("bob")).status == 200
    # a token for bob from node1 carries the grant to node0
    bobs = b.get(
        "/token?service=dockyard-registry&scope=repository:alice/secret:pull", auth=creds("bob")
    ).json()["token"]
    assert a.get("/v2/alice/secret/manifests/v1", auth=bobs).status == 200
    # a removed account is refused by both, its token too
    assert auth_cluster.cli("user", "remove", "bob").returncode == 0
    for client in (a, b):
        assert client.get("/v2/alice/secret/manifests/v1", auth=bobs).status == 401


def test_web_sessions_stars_descriptions_and_search_are_shared(auth_cluster, nodes):
    a, b = nodes
    push_image(a, "alice/webapp", "v1", "w", auth=creds("alice"))
    push_image(b, "bob/webtool", "v1", "t", auth=creds("bob"))
    assert auth_cluster.cli("repo", "set-description", "alice/webapp", "a web app").returncode == 0
    # signed in on node0, the session cookie works on node1
    signed = a.post(
        "/login", data=urlencode({"username": "bob", "password": USERS["bob"]}), headers=FORM
    )
    assert signed.status == 303
    session = {"Cookie": signed.headers["Set-Cookie"].split(";")[0]}
    assert "signed in as bob" in visible_text(b.get("/r/alice/webapp", headers=session).body)
    starred = b.post("/r/alice/webapp/star", data="action=star", headers={**FORM, **session})
    assert starred.status == 303
    # a star through the API on node1, seen by node0
    assert b.put("/v1/repositories/alice/webapp/star", auth=creds("alice")).status == 200
    for client in (a, b):
        results = client.get("/v1/search?q=web").json()["results"]
        assert [(r["name"], r["star_count"], r["description"]) for r in results] == [
            ("alice/webapp", 2, "a web app"),
            ("bob/webtool", 0, ""),
        ]
        page = client.get("/v1/repositories/alice/webapp").json()
        assert page["star_count"] == 2 and page["description"] == "a web app"


def test_failed_sign_ins_are_counted_across_nodes(auth_cluster, nodes):
    a, b = nodes
    for k in range(20):
        client = (a, b)[k % 2]
        assert client.get("/v2/", auth=("alice", "guess")).status == 401
    for client in (a, b):
        blocked = client.get("/v2/", auth=creds("alice"))
        assert blocked.status == 429 and blocked.codes == ["TOOMANYREQUESTS"]


def test_the_sign_in_limit_counts_each_client_behind_the_balancer(auth_cluster):
    """haproxy appends the address it saw to X-Forwarded-For and the nodes trust it: one
    client's failures do not lock out another. (All test clients connect from 127.0.0.1,
    a trusted address, so each stands for a distinct client with its own header.)"""
    client = Client(auth_cluster.url)
    try:
        guesser = {"X-Forwarded-For": "203.0.113.7"}
        for _ in range(20):
            assert client.get("/v2/", auth=("alice", "guess"), headers=guesser).status == 401
        blocked = client.get("/v2/", auth=creds("alice"), headers=guesser)
        assert blocked.status == 429
        other = client.get("/v2/", auth=creds("alice"), headers={"X-Forwarded-For": "203.0.113.8"})
        assert other.status == 200
    finally:
        client.close()


def test_the_balancer_spreads_requests_over_both_nodes(open_cluster):
    client = Client(open_cluster.url)
    try:
        served = {client.get("/v2/").headers["X-Dockyard-Node"] for _ in range(6)}
    finally:
        client.close()
    assert served == {node.name for node in open_cluster.nodes}


def test_dockyard_pushes_through_one_node_and_pulls_through_the_other(
    open_cluster, cli, busybox_tar, tmp_path, monkeypatch
):
    (tmp_path / "docker-config").mkdir()
    (tmp_path / "daemon.json").write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("DOCKYARD_CONFIG", str(tmp_path / "daemon.json"))
    first, second = open_cluster.nodes[:2]
    image = cli("import", "-c", 'CMD ["sh"]', str(busybox_tar), "busybox:latest").stdout.strip()
    cli("tag", "busybox", f"{first.host}/lib/busybox:1")
    cli("push", f"{first.host}/lib/busybox:1")
    cli("rmi", f"{first.host}/lib/busybox:1", "busybox:latest")
    cli("pull", f"{second.host}/lib/busybox:1")
    assert json.loads(cli("inspect", f"{second.host}/lib/busybox:1").stdout)[0]["Id"] == image
    # skopeo reads the same image through the balancer
    inspected = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{open_cluster.host}/lib/busybox:1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["Digest"].startswith("sha256:")


def test_a_blob_pushed_on_one_node_is_reused_by_the_other(open_cluster, nodes):
    a, b = nodes
    layer = os.urandom(100_000)
    digest = push_blob(a, "first", layer)
    assert b.head(f"/v2/first/blobs/{digest}").status == 200
    assert b.head(f"/v2/second/blobs/{digest}").status == 404  # not linked there
    reply = b.post(f"/v2/second/blobs/uploads/?mount={digest}&from=first")
    assert reply.status == 201 and reply.headers["Docker-Content-Digest"] == digest
    assert a.get(f"/v2/second/blobs/{digest}").body == layer
