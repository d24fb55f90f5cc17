"""The web page in a real headless browser: Playwright driving Debian's chromium.

The set-up (``setup_browser.sh``) installs chromium and Playwright when they are missing
and the tests run as root; otherwise the test is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.registry.conftest import USERS
from tests.registry.pushing import push_image

HERE = os.path.dirname(os.path.abspath(__file__))


def _browser_ready() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return shutil.which("chromium") is not None


@pytest.fixture(scope="module")
def chromium():
    if not _browser_ready() and os.geteuid() == 0:
        subprocess.run(
            [os.path.join(HERE, "setup_browser.sh")], capture_output=True, timeout=900, check=False
        )
    if not _browser_ready():
        pytest.skip("chromium and playwright are not available")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


def test_page_lists_searches_and_stars(chromium, auth_registry, auth_client):
    client = auth_client
    push_image(client, "library/ubuntu", "24.04", "u", auth=("root", USERS["root"]), layers=2)
    push_image(client, "alice/webapp", "v1", "w", auth=("alice", USERS["alice"]))
    auth_registry.cli("repo", "set-description", "alice/webapp", "a web app")
    auth_registry.cli("repo", "set-official", "library/ubuntu")

    page = chromium.new_page()
    try:
        page.goto(auth_registry.url + "/")
        assert page.locator("a.repo").all_inner_texts() == ["ubuntu", "alice/webapp"]
        assert page.locator(".badge").first.inner_text() == "official"

        page.fill("input[name=q]", "web")
        page.press("input[name=q]", "Enter")
        page.wait_for_url("**/?q=web")
        assert page.locator("a.repo").all_inner_texts() == ["alice/webapp"]

        page.click("text=alice/webapp")
        page.wait_for_url("**/r/alice/webapp")
        assert (
            page.locator("#pull").inner_text()
            == f"docker pull {auth_registry.host}/alice/webapp:v1"
        )
        assert page.locator("tr.tag").count() == 1
        assert page.locator("#star-button").count() == 0  # not signed in

        page.click("text=Sign in")
        page.fill("input[name=username]", "bob")
        page.fill("input[name=password]", USERS["bob"])
        page.click("button[type=submit]")
        page.wait_for_url(auth_registry.url + "/")
        assert "signed in as bob" in page.locator("header").inner_text()

        page.goto(auth_registry.url + "/r/alice/webapp")
        assert page.locator("#star-count").inner_text() == "0"
        page.click("#star-button")
        page.wait_for_url("**/r/alice/webapp")
        assert page.locator("#star-count").inner_text() == "1"
        assert page.locator("#star-button").inner_text() == "Unstar"
        assert client.get("/v1/search?q=webapp").json()["results"][0]["star_count"] == 1

        page.click("#star-button")
        page.wait_for_url("**/r/alice/webapp")
        assert page.locator("#star-count").inner_text() == "0"

        page.click("text=Sign out")
        page.wait_for_url(auth_registry.url + "/")
        assert "Sign in" in page.locator("header").inner_text()
    finally:
        page.close()
