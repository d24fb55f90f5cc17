"""Accounts and permissions: the permission matrix, the token flow, skopeo with credentials."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest

from tests.registry.conftest import USERS, registry_cli, start_registry, stop_registry
from tests.registry.images import Layout
from tests.registry.pushing import OCI_MANIFEST, digest_of, push_image

ACTORS = ("anonymous", "alice", "bob", "root")


def creds(actor: str):
    return None if actor == "anonymous" else (actor, USERS[actor])


@pytest.fixture
def world(auth_registry, auth_client):
    client = auth_client
    """alice/app (alice's, public), alice/secret (private), shared/public (nobody's),
    team/private (private; bob may pull)."""
    configs = {}
    for repo, pusher in (
        ("alice/app", "alice"),
        ("alice/secret", "alice"),
        ("shared/public", "root"),
        ("team/private", "root"),
    ):
        _, manifest, blobs = push_image(client, repo, "v1", repo, auth=creds(pusher))
        configs[repo] = digest_of(blobs[0])
        for actor in ACTORS:
            reply = client.put(
                f"/v2/{repo}/manifests/d-{actor}",
                data=manifest,
                headers={"Content-Type": OCI_MANIFEST},
                auth=creds("root"),
            )
            assert reply.status == 201
    for repo in ("alice/secret", "team/private"):
        assert auth_registry.cli("repo", "set-private", repo).returncode == 0
    assert auth_registry.cli("repo", "grant", "team/private", "bob", "pull").returncode == 0
    return configs


PULL = {
    "alice/app": {"anonymous": 200, "alice": 200, "bob": 200, "root": 200},
    "alice/secret": {"anonymous": 401, "alice": 200, "bob": 403, "root": 200},
    "shared/public": {"anonymous": 200, "alice": 200, "bob": 200, "root": 200},
    "team/private": {"anonymous": 401, "alice": 403, "bob": 200, "root": 200},
}
PUSH = {
    "alice/app": {"anonymous": 401, "alice": 202, "bob": 403, "root": 202},
    "alice/secret": {"anonymous": 401, "alice": 202, "bob": 403, "root": 202},
    "shared/public": {"anonymous": 401, "alice": 403, "bob": 403, "root": 202},
    "team/private": {"anonymous": 401, "alice": 403, "bob": 403, "root": 202},
}
DELETE = PUSH
MOUNT = {  # into the actor's own namespace, from each repository
    "alice/app": {"anonymous": 401, "alice": 201, "bob": 201, "root": 201},
    "alice/secret": {"anonymous": 401, "alice": 201, "bob": 202, "root": 201},
    "shared/public": {"anonymous": 401, "alice": 201, "bob": 201, "root": 201},
    "team/private": {"anonymous": 401, "alice": 202, "bob": 201, "root": 201},
}


def test_permission_matrix(auth_registry, auth_client, world):
    client = auth_client
    seen: dict[tuple[str, str, str], int] = {}
    expected: dict[tuple[str, str, str], int] = {}
    for repo in PULL:
        for actor in ACTORS:
            auth = creds(actor)
            pull = client.get(
                f"/v2/{repo}/manifests/v1", headers={"Accept": OCI_MANIFEST}, auth=auth
            )
            seen["pull", repo, actor] = pull.status
            blob = client.get(f"/v2/{repo}/blobs/{world[repo]}", auth=auth)
            seen["pull-blob", repo, actor] = blob.status
            push = client.post(f"/v2/{repo}/blobs/uploads/", auth=auth)
            seen["push", repo, actor] = push.status
            delete = client.delete(f"/v2/{repo}/manifests/d-{actor}", auth=auth)
            seen["delete", repo, actor] = delete.status
            target = "anon" if actor == "anonymous" else actor
            mount = client.post(
                f"/v2/{target}/mounted/blobs/uploads/?mount={world[repo]}&from={repo}", auth=auth
            )
            seen["mount", repo, actor] = mount.status
            expected["pull", repo, actor] = PULL[repo][actor]
            expected["pull-blob", repo, actor] = PULL[repo][actor]
            expected["push", repo, actor] = PUSH[repo][actor]
            expected["delete", repo, actor] = DELETE[repo][actor]
            expected["mount", repo, actor] = MOUNT[repo][actor]
            for reply in (pull, push, delete, mount):
                if reply.status == 401:
                    assert reply.codes == ["UNAUTHORIZED"]
                    assert reply.headers["WWW-Authenticate"].startswith(
                        f'Bearer realm="{auth_registry.url}/token",service="dockyard-registry"'
                    )
                if reply.status == 403:
                    assert reply.codes == ["DENIED"]
    assert seen == expected


def test_challenge_names_the_scope(auth_registry, auth_client, world):
    client = auth_client
    reply = client.get("/v2/alice/secret/manifests/v1")
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"] == (
        f'Bearer realm="{auth_registry.url}/token",service="dockyard-registry",'
        'scope="repository:alice/secret:pull"'
    )
    push = client.post("/v2/alice/secret/blobs/uploads/")
    assert 'scope="repository:alice/secret:pull,push"' in push.headers["WWW-Authenticate"]
    ping = client.get("/v2/")
    assert ping.status == 401 and "scope=" not in ping.headers["WWW-Authenticate"]
    assert client.get("/v2/", auth=creds("bob")).status == 200
    wrong = client.get("/v2/", auth=("alice", "wrong"))
    assert wrong.status == 401 and wrong.codes == ["UNAUTHORIZED"]


def claims(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def get_token(client, scope: str, auth=None):
    reply = client.get(f"/token?service=dockyard-registry&scope={scope}", auth=auth)
    return reply


def test_token_flow(auth_registry, auth_client, world):
    client = auth_client
    reply = get_token(client, "repository:alice/secret:pull,push", auth=creds("alice"))
    assert reply.status == 200
    body = reply.json()
    token = body["token"]
    assert body["access_token"] == token and body["expires_in"] == 300 and body["issued_at"]
    assert claims(token)["sub"] == "alice"
    assert claims(token)["access"] == [
        {"type": "repository", "name": "alice/secret", "actions": ["pull", "push"]}
    ]
    assert client.get("/v2/", auth=token).status == 200
    assert client.get("/v2/alice/secret/manifests/v1", auth=token).status == 200
    assert client.post("/v2/alice/secret/blobs/uploads/", auth=token).status == 202
    # a token without the needed scope: 401 with insufficient_scope, so the client asks again
    narrow = get_token(client, "repository:alice/secret:pull", auth=creds("alice")).json()["token"]
    again = client.post("/v2/alice/secret/blobs/uploads/", auth=narrow)
    assert again.status == 401
    assert 'error="insufficient_scope"' in again.headers["WWW-Authenticate"]
    # bob asks for what he may not have: the token grants nothing, the registry says 403
    bobs = get_token(client, "repository:alice/secret:pull,push", auth=creds("bob")).json()["token"]
    assert claims(bobs)["access"] == [{"type": "repository", "name": "alice/secret", "actions": []}]
    denied = client.get("/v2/alice/secret/manifests/v1", auth=bobs)
    assert denied.status == 403 and denied.codes == ["DENIED"]
    # anonymous tokens pull public repositories only
    anonymous = get_token(client, "repository:alice/app:pull").json()["token"]
    assert claims(anonymous)["sub"] == ""
    assert client.get("/v2/alice/app/manifests/v1", auth=anonymous).status == 200
    hidden = get_token(client, "repository:alice/secret:pull").json()["token"]
    assert client.get("/v2/alice/secret/manifests/v1", auth=hidden).status == 401
    # bad credentials, forged and expired-looking tokens
    assert get_token(client, "repository:alice/app:pull", auth=("alice", "nope")).status == 401
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.get("/v2/alice/secret/manifests/v1", auth=forged).status == 401
    # OAuth2 password grant (POST)
    from urllib.parse import urlencode

    form = client.post(
        "/token",
        data=urlencode(
            {
                "grant_type": "password",
                "username": "alice",
                "password": USERS["alice"],
                "service": "dockyard-registry",
                "scope": "repository:alice/app:pull",
            }
        ),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status == 200 and claims(form.json()["token"])["sub"] == "alice"


def test_catalog_lists_what_the_caller_may_pull(auth_registry, auth_client, world):
    client = auth_client

    def repos(**kw):
        return client.get("/v2/_catalog", **kw).json()["repositories"]

    assert repos() == ["alice/app", "shared/public"]
    assert repos(auth=creds("bob")) == ["alice/app", "shared/public", "team/private"]
    assert repos(auth=creds("root")) == [
        "alice/app",
        "alice/secret",
        "shared/public",
        "team/private",
    ]


def test_user_commands_change_access(auth_registry, auth_client, world):
    client = auth_client
    assert client.post("/v2/bob/x/blobs/uploads/", auth=creds("bob")).status == 202
    result = auth_registry.cli("user", "passwd", "bob", "--password-stdin", input="new-pw\n")
    assert result.returncode == 0, result.stderr
    assert client.post("/v2/bob/x/blobs/uploads/", auth=creds("bob")).status == 401
    assert client.post("/v2/bob/x/blobs/uploads/", auth=("bob", "new-pw")).status == 202
    assert auth_registry.cli("user", "remove", "bob").returncode == 0
    assert client.post("/v2/bob/x/blobs/uploads/", auth=("bob", "new-pw")).status == 401
    duplicate = auth_registry.cli("user", "add", "alice", "--password-stdin", input="x\n")
    assert duplicate.returncode == 1
    assert duplicate.stderr == "Error: user alice already exists\n"
    missing = auth_registry.cli("user", "remove", "nobody")
    assert missing.returncode == 1 and missing.stderr == "Error: no such user: nobody\n"
    # a grant with a pattern
    assert auth_registry.cli("repo", "grant", "shared/*", "alice", "push").returncode == 0
    assert client.post("/v2/shared/public/blobs/uploads/", auth=creds("alice")).status == 202


def test_anonymous_pull_can_be_switched_off(tmp_path, client):
    storage = str(tmp_path / "closed")
    assert (
        registry_cli(storage, "user", "add", "alice", "--password-stdin", input="pw\n").returncode
        == 0
    )
    server = start_registry(storage, "--no-anonymous-pull")
    try:
        from tests.registry.conftest import Client

        closed = Client(server.url)
        try:
            push_image(closed, "alice/app", "v1", "x", auth=("alice", "pw"))
            assert closed.get("/v2/alice/app/manifests/v1").status == 401
            assert closed.get("/v2/alice/app/manifests/v1", auth=("alice", "pw")).status == 200
            assert closed.get("/v1/search?q=app").json()["results"] == []
        finally:
            closed.close()
    finally:
        stop_registry(server.process)


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_skopeo_uses_the_token_flow(auth_registry, tmp_path):
    layout = str(tmp_path / "src")
    images = Layout(layout)
    _, descriptor = images.image({"f": b"data"})
    images.add(descriptor, "v1")
    images.close()
    host = auth_registry.host

    def skopeo(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["skopeo", *args], capture_output=True, text=True, timeout=120, check=False
        )

    pushed = skopeo(
        "copy", "--insecure-policy", "--dest-tls-verify=false", "--dest-creds", "alice:alice-pw",
        f"oci:{layout}:v1", f"docker://{host}/alice/tool:v1",
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    refused = skopeo(
        "copy", "--insecure-policy", "--dest-tls-verify=false", "--dest-creds", "bob:bob-pw",
        f"oci:{layout}:v1", f"docker://{host}/alice/tool:v2",
    )  # fmt: skip
    assert refused.returncode != 0
    assert "denied" in refused.stderr
    pulled = skopeo(
        "copy", "--insecure-policy", "--src-tls-verify=false",
        f"docker://{host}/alice/tool:v1", f"dir:{tmp_path / 'out'}",
    )  # fmt: skip
    assert pulled.returncode == 0, pulled.stderr
    auth_registry.cli("repo", "set-private", "alice/tool")
    hidden = skopeo(
        "inspect", "--tls-verify=false", f"docker://{host}/alice/tool:v1",
    )  # fmt: skip
    assert hidden.returncode != 0
    mine = skopeo(
        "inspect",
        "--tls-verify=false",
        "--creds",
        "alice:alice-pw",
        f"docker://{host}/alice/tool:v1",
    )
    assert mine.returncode == 0, mine.stderr


def test_too_many_failed_sign_ins_get_429(auth_registry, auth_client):
    client = auth_client
    for _ in range(20):
        assert client.get("/v2/", auth=("alice", "guess")).status == 401
    blocked = client.get("/v2/", auth=("alice", USERS["alice"]))
    assert blocked.status == 429 and blocked.codes == ["TOOMANYREQUESTS"]
    token = client.get("/token?scope=repository:alice/app:pull", auth=("alice", USERS["alice"]))
    assert token.status == 429
    # anonymous pulls of public repositories need no password and go on
    assert client.get("/v1/search?q=x").status == 200
