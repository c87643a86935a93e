"""The console in a real browser: Debian's Chromium driven by Playwright (browsers cannot be
downloaded here, so Playwright launches /usr/bin/chromium). One browser for the module, a fresh
context (cookies) per test; a failing test leaves a screenshot in test-artifacts/console/.

Every page must load without a console error: a Content-Security-Policy violation (an inline
script or style that htmx or a template slipped in) fails the test that met it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from conformance.client import OCI_MANIFEST
from tests.support.auth import PASSWORD
from tests.support.receiver import Receiver

from .conftest import Seeded, artifacts_dir

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
expect.set_options(timeout=15_000)  # a loaded CI machine; polls, never sleeps


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def _open_page(browser: Browser, request: pytest.FixtureRequest, **context_args: object) -> Iterator[Page]:
    context = browser.new_context(**context_args)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("dialog", lambda dialog: dialog.accept())  # confirmations of destructive forms
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        page.screenshot(path=str(artifacts_dir() / f"{request.node.name}.png"), full_page=True)
    context.close()
    if report is not None and report.passed:
        assert not [e for e in errors if "403" not in e and "401" not in e], errors  # refusals are expected


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    yield from _open_page(browser, request)


@pytest.fixture
def phone(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    yield from _open_page(browser, request, viewport=PHONE, is_mobile=True, has_touch=True)


def log_in(page: Page, url: str, name: str) -> None:
    page.goto(f"{url}/ui/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Repositories")).to_be_visible()


def test_log_in_find_an_image_and_tag_it(page: Page, seeded: Seeded) -> None:
    log_in(page, seeded.url, seeded.pusher[0])
    page.get_by_placeholder("Search repositories").fill("app")  # htmx searches as one types
    rows = page.locator("#repository-rows")
    expect(rows).not_to_contain_text("public/tool")
    rows.get_by_role("link", name="team/app").click()
    expect(page.get_by_role("heading", name="team/app")).to_be_visible()
    page.get_by_placeholder("Find a tag or sha256:digest").fill("v5")
    images = page.locator("#image-rows tbody tr")
    expect(images).to_have_count(1)
    images.get_by_role("link", name="v5").click()
    expect(page.get_by_role("heading", name="Layers")).to_be_visible()
    assert seeded.app_digests[5] in page.url
    page.get_by_label("Tag", exact=True).fill("release-1")
    page.get_by_role("button", name="Tag this image").click()
    expect(page.locator("#flash")).to_contain_text("The tag now points to this image.")
    expect(page.locator("td").filter(has_text="release-1")).to_be_visible()
    page.get_by_role("link", name="team/app").first.click()
    expect(page.locator("#activity")).to_contain_text("release-1")
    expect(page.locator("#activity")).to_contain_text("by pusher")


def test_lifecycle_preview_says_why_before_anything_is_applied(page: Page, seeded: Seeded) -> None:
    log_in(page, seeded.url, seeded.admin[0])
    page.goto(f"{seeded.url}/ui/repositories/team/app/-/lifecycle")
    policy = (
        '{"rules": [{"rulePriority": 7, "description": "keep two", "selection": {"tagStatus": "any",'
        ' "countType": "imageCountMoreThan", "countNumber": 2}, "action": {"type": "expire"}}]}'
    )
    page.get_by_label("Lifecycle policy").fill(policy)
    page.evaluate("window.stillThisPage = true")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    expect(preview.locator("tr.expire").first).to_be_visible()
    expect(preview).to_contain_text("rule 7")
    expect(preview.locator("td.why").first).not_to_be_empty()
    assert page.evaluate("window.stillThisPage") is True  # swapped in, not reloaded
    assert page.get_by_label("Lifecycle policy").input_value() == policy  # what was typed stays
    summary = re.search(r"(\d+) of (\d+) images would expire", preview.inner_text())
    assert summary is not None and int(summary.group(1)) == int(summary.group(2)) - 2  # "keep two"
    # Nothing was applied: every image is still there.
    assert seeded.registry.basic(seeded.admin).get_manifest("team/app", "v6").status_code == 200


def test_a_pull_only_user_is_refused_the_admin_pages(page: Page, seeded: Seeded) -> None:
    log_in(page, seeded.url, seeded.puller[0])
    expect(page.get_by_role("link", name="Access")).to_have_count(0)
    response = page.goto(f"{seeded.url}/ui/access/users")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text("Only administrators")).to_be_visible()
    page.goto(f"{seeded.url}/ui/repositories/team/app/-/images/{seeded.app_digests[3]}")
    expect(page.get_by_role("heading", name="Layers")).to_be_visible()
    expect(page.get_by_role("button", name="Tag this image")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete image")).to_have_count(0)


def test_activity_updates_live_and_a_deletion_asks_first(page: Page, seeded: Seeded) -> None:
    log_in(page, seeded.url, seeded.pusher[0])
    page.goto(f"{seeded.url}/ui/repositories/team/app")
    page.evaluate("window.stillThisPage = true")
    reg = seeded.registry.basic(seeded.pusher)
    body = reg.get_manifest("team/app", "v4").content
    assert reg.put_manifest("team/app", "pushed-live", body, OCI_MANIFEST).status_code == 201
    expect(page.locator("#activity")).to_contain_text("pushed-live")  # polled in, no reload
    assert page.evaluate("window.stillThisPage") is True
    page.locator("#image-rows").get_by_role("link", name="v4").first.click()
    page.get_by_role("button", name="Delete image").click()  # confirmed by the dialog handler
    expect(page.locator("#flash")).to_contain_text("The image was deleted.")
    expect(page.locator("#image-rows")).not_to_contain_text("pushed-live")


def test_pages_fit_a_phone(phone: Page, seeded: Seeded) -> None:
    log_in(phone, seeded.url, seeded.admin[0])
    for path in (
        "/ui/repositories",
        "/ui/repositories/public/tool",
        f"/ui/repositories/public/tool/-/images/{seeded.index}",
        f"/ui/repositories/public/tool/-/images/{seeded.arm}",
        "/ui/repositories/team/app/-/history",
        "/ui/repositories/team/app/-/settings",
        "/ui/access/robots",
    ):
        phone.goto(seeded.url + path)
        overflow = phone.evaluate("document.documentElement.scrollWidth") - PHONE["width"]
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
    expect(phone.get_by_role("button", name="Create robot")).to_be_visible()
    assert re.search(r"admin · Log out", phone.content())


def test_a_webhook_delivery_is_logged_and_redelivered(page: Page, seeded: Seeded) -> None:
    receiver = Receiver().start()
    try:
        reg = seeded.registry.basic(seeded.admin)
        body = {"name": "ci-hook", "url": receiver.url, "events": ["image.pushed"]}
        assert reg.request("POST", "/api/v1/webhooks", json=body).status_code == 201
        assert reg.put_manifest("team/app", "hooked", reg.get_manifest("team/app", "v6").content).status_code == 201
        first = receiver.wait(1)[0]
        log_in(page, seeded.url, seeded.admin[0])
        page.get_by_role("link", name="Webhooks").click()
        page.get_by_role("link", name="ci-hook").click()
        row = page.locator("#deliveries tbody tr").filter(has_text="image.pushed")
        expect(row).to_contain_text("delivered")
        expect(row).to_contain_text("200")
        row.get_by_role("button", name="Redeliver").click()
        expect(page.locator("#flash")).to_contain_text("Queued for delivery again.")
        again = receiver.wait(2)[1]
        assert again.headers["webhook-id"] == first.headers["webhook-id"]  # the same event, once more
        page.get_by_role("button", name="Send a test ping").click()
        expect(page.locator("#flash")).to_contain_text("The test ping was delivered.")
        expect(page.locator("#deliveries")).to_contain_text("webhook.ping")
    finally:
        receiver.stop()
