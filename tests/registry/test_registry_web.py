"""The web page over HTTP: list, search, repository page, sign in, stars."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlencode

from tests.registry.conftest import USERS
from tests.registry.pushing import digest_of, push_image

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Text(HTMLParser):
    """Collects visible text and the elements' ids and classes."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.ids: dict[str, list[str]] = {}
        self._stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        self._stack.append(dict(attrs).get("id") or "")

    def handle_endtag(self, tag):
        if self._stack:
            self._stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        for ident in self._stack:
            if ident:
                self.ids.setdefault(ident, []).append(data)

    def by_id(self, ident: str) -> str:
        return "".join(self.ids.get(ident, []))

    @property
    def all(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(body: bytes) -> Text:
    parser = Text()
    parser.feed(body.decode())
    return parser


def repo_names(body: bytes) -> list[str]:
    return re.findall(r'class="repo" href="/r/[^"]+">([^<]+)</a>', body.decode())


def test_list_search_and_repository_page(registry, client):
    push_image(client, "library/ubuntu", "22.04", "u1", layers=2)
    push_image(client, "library/ubuntu", "24.04", "u2", layers=3)
    push_image(client, "team/tools", "v1", "t")
    registry.cli("repo", "set-description", "library/ubuntu", "Ubuntu <base> image")
    registry.cli("repo", "set-official", "library/ubuntu")

    home = client.get("/")
    assert home.status == 200
    assert home.headers["Content-Type"] == "text/html; charset=utf-8"
    assert repo_names(home.body) == ["ubuntu", "team/tools"]
    assert "Ubuntu &lt;base&gt; image" in home.body.decode()  # escaped
    assert 'name="q"' in home.body.decode()
    assert "official" in parse(home.body).all

    found = client.get("/?q=tools")
    assert repo_names(found.body) == ["team/tools"]
    none = client.get("/?q=nothing-like-this")
    assert "No repositories found." in parse(none.body).all

    page = client.get("/r/library/ubuntu")
    assert page.status == 200
    text = parse(page.body)
    assert text.by_id("pull") == f"docker pull {registry.host}/library/ubuntu:22.04"
    assert "22.04" in text.all and "24.04" in text.all
    manifest = client.get("/v2/library/ubuntu/manifests/24.04").body
    assert digest_of(manifest)[:19] in page.body.decode()
    assert "3 layers" in text.all and "2 layers" in text.all
    assert "Sign in" not in text.all  # an open registry has no accounts
    assert "star-button" not in page.body.decode()
    missing = client.get("/r/no/such/repo")
    assert missing.status == 404


def test_sign_in_and_star_from_the_page(auth_registry, auth_client):
    client = auth_client
    push_image(client, "alice/web", "v1", "w", auth=("alice", USERS["alice"]))
    page = client.get("/r/alice/web")
    assert page.status == 200
    assert "Sign in" in parse(page.body).all
    assert "star-button" not in page.body.decode()

    wrong = client.post(
        "/login", data=urlencode({"username": "bob", "password": "x"}), headers=FORM
    )
    assert wrong.status == 401 and "Wrong user name or password." in parse(wrong.body).all

    signed = client.post(
        "/login", data=urlencode({"username": "bob", "password": USERS["bob"]}), headers=FORM
    )
    assert signed.status == 303
    cookie = signed.headers["Set-Cookie"].split(";")[0]
    assert "HttpOnly" in signed.headers["Set-Cookie"]
    session = {"Cookie": cookie}

    page = client.get("/r/alice/web", headers=session)
    text = parse(page.body)
    assert "signed in as bob" in text.all
    assert text.by_id("star-count") == "0"
    assert text.by_id("star-button") == "Star"

    starred = client.post("/r/alice/web/star", data="action=star", headers={**FORM, **session})
    assert starred.status == 303 and starred.headers["Location"] == "/r/alice/web"
    text = parse(client.get("/r/alice/web", headers=session).body)
    assert text.by_id("star-count") == "1" and text.by_id("star-button") == "Unstar"
    assert client.get("/v1/search?q=web").json()["results"][0]["star_count"] == 1
    home = parse(client.get("/").body)
    assert "alice/web" in home.all

    client.post("/r/alice/web/star", data="action=unstar", headers={**FORM, **session})
    assert parse(client.get("/r/alice/web", headers=session).body).by_id("star-count") == "0"

    anonymous = client.post("/r/alice/web/star", data="action=star", headers=FORM)
    assert anonymous.status == 303 and anonymous.headers["Location"] == "/login"

    out = client.post("/logout", headers=session)
    assert out.status == 303
    # a forged cookie is nobody
    forged = client.get("/r/alice/web", headers={"Cookie": cookie[:-3] + "xyz"})
    assert "signed in" not in parse(forged.body).all


def test_private_repository_pages(auth_registry, auth_client):
    client = auth_client
    push_image(client, "alice/hidden", "v1", "h", auth=("alice", USERS["alice"]))
    auth_registry.cli("repo", "set-private", "alice/hidden")
    assert client.get("/r/alice/hidden").status == 404
    assert "alice/hidden" not in client.get("/").body.decode()
    assert client.get("/r/alice/hidden", auth=("alice", USERS["alice"])).status == 200
