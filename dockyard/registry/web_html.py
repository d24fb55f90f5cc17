"""HTML for the web page: a layout, the repository list and the repository page.

Plain server-rendered HTML with a little CSS; no scripts, no build step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f8fa}
header{background:#0b3d91;color:#fff;padding:.8em 2em;display:flex;gap:2em;align-items:center}
header a{color:#fff;text-decoration:none}header .who{margin-left:auto}
main{max-width:1000px;margin:1.5em auto;padding:0 1em}
form.search input[type=search]{width:60%;padding:.5em;font-size:1em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.45em .6em;border-bottom:1px solid #dde3ea;vertical-align:top}
code{font-size:.9em}.badge{background:#1f883d;color:#fff;border-radius:.6em;padding:0 .5em;font-size:.8em}
.stars{white-space:nowrap}.muted{color:#667}.pull{background:#fff;border:1px solid #dde3ea;padding:.6em}
button{cursor:pointer}.error{color:#b00020}
"""


@dataclass
class RepoRow:
    name: str
    display_name: str
    description: str
    stars: int
    official: bool


@dataclass
class LayerRow:
    digest: str
    size: int
    media_type: str


@dataclass
class TagRow:
    tag: str
    digest: str
    media_type: str
    size: int
    created: str = ""
    platforms: list[str] = field(default_factory=list)
    layers: list[LayerRow] = field(default_factory=list)


@dataclass
class RepoPage:
    name: str
    display_name: str
    description: str
    stars: int
    official: bool
    private: bool
    starred: bool | None  # None: not signed in (no button)
    host: str
    tags: list[TagRow]


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def layout(title: str, body: str, user: str | None, can_sign_in: bool) -> str:
    if user:
        who = (
            f'<span class="who">signed in as <b>{escape(user)}</b> '
            '<form method="post" action="/logout" style="display:inline">'
            '<button type="submit">Sign out</button></form></span>'
        )
    elif can_sign_in:
        who = '<span class="who"><a href="/login">Sign in</a></span>'
    else:
        who = '<span class="who muted">open registry</span>'
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<header><a href="/"><b>dockyard registry</b></a>{who}</header>'
        f"<main>{body}</main></body></html>"
    )


def repo_link(name: str) -> str:
    return "/r/" + quote(name)


def index_page(query: str, repos: list[RepoRow]) -> str:
    rows = "".join(
        "<tr>"
        f'<td><a class="repo" href="{repo_link(r.name)}">{escape(r.display_name)}</a>'
        + (' <span class="badge">official</span>' if r.official else "")
        + f"</td><td>{escape(r.description)}</td>"
        f'<td class="stars">&#9733; <span class="star-count">{r.stars}</span></td></tr>'
        for r in repos
    )
    table = (
        f"<table id=repos><tr><th>Repository</th><th>Description</th><th>Stars</th></tr>{rows}</table>"
        if repos
        else '<p class="muted" id=empty>No repositories found.</p>'
    )
    heading = f"Results for “{escape(query)}”" if query else "Repositories"
    return (
        '<form class="search" method="get" action="/">'
        f'<input type="search" name="q" value="{escape(query)}" placeholder="Search repositories" '
        'aria-label="Search"> <button type="submit">Search</button></form>'
        f"<h2>{heading}</h2>{table}"
    )


def _tag_rows(page: RepoPage) -> str:
    rows = []
    for tag in page.tags:
        detail = ""
        if tag.layers:
            items = "".join(
                f"<tr><td><code>{escape(layer.digest)}</code></td><td>{human_size(layer.size)}</td>"
                f'<td class="muted">{escape(layer.media_type)}</td></tr>'
                for layer in tag.layers
            )
            detail = (
                f"<details><summary>{len(tag.layers)} layers</summary>"
                f"<table class=layers>{items}</table></details>"
            )
        elif tag.platforms:
            detail = "platforms: " + ", ".join(escape(p) for p in tag.platforms)
        rows.append(
            f'<tr class="tag"><td><b>{escape(tag.tag)}</b></td>'
            f'<td><code title="{escape(tag.digest)}">{escape(tag.digest[:19])}</code></td>'
            f"<td>{human_size(tag.size)}</td><td>{escape(tag.created)}</td><td>{detail}</td></tr>"
        )
    return "".join(rows)


def repo_page(page: RepoPage) -> str:
    badge = ' <span class="badge">official</span>' if page.official else ""
    private = ' <span class="muted">(private)</span>' if page.private else ""
    if page.starred is None:
        star = ""
    else:
        label = "Unstar" if page.starred else "Star"
        star = (
            f'<form method="post" action="{repo_link(page.name)}/star" style="display:inline">'
            f'<input type="hidden" name="action" value="{"unstar" if page.starred else "star"}">'
            f'<button type="submit" id="star-button">{label}</button></form>'
        )
    first_tag = page.tags[0].tag if page.tags else "latest"
    pull = f"docker pull {page.host}/{page.name}:{first_tag}"
    tags = (
        "<table id=tags><tr><th>Tag</th><th>Digest</th><th>Size</th><th>Created</th>"
        f"<th>Layers</th></tr>{_tag_rows(page)}</table>"
        if page.tags
        else '<p class="muted">No tags.</p>'
    )
    return (
        f"<h1>{escape(page.display_name)}{badge}{private}</h1>"
        f"<p>{escape(page.description) or '<span class=muted>No description.</span>'}</p>"
        f'<p class="stars">&#9733; <span id="star-count">{page.stars}</span> {star}</p>'
        f'<p>Pull this image:</p><pre class="pull"><code id="pull">{escape(pull)}</code></pre>'
        f"<h2>Tags</h2>{tags}"
    )


def login_page(error: str | None = None) -> str:
    message = f'<p class="error">{escape(error)}</p>' if error else ""
    return (
        f"<h1>Sign in</h1>{message}"
        '<form method="post" action="/login">'
        '<p><label>User <input name="username" autocomplete="username" required></label></p>'
        '<p><label>Password <input name="password" type="password" '
        'autocomplete="current-password" required></label></p>'
        '<p><button type="submit">Sign in</button></p></form>'
    )


def format_created(text: str) -> str:
    """``2026-01-01T00:00:00.123Z`` -> ``2026-01-01 00:00 UTC``."""
    if not text:
        return ""
    try:
        parsed = time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return text
    return time.strftime("%Y-%m-%d %H:%M UTC", parsed)
