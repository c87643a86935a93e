"""The console over plain HTTP: sessions, CSRF, the API's permissions, escaping, and the pages'
contents. The browser tests (test_browser.py) drive the same registry through Chromium."""

from __future__ import annotations

import hashlib
import re

import httpx

from registry.console.assets import DIRECTORY
from tests.support.auth import PASSWORD

from .conftest import SCRIPT, Seeded

APP = "/ui/repositories/team/app"


def _cookie_header(response: httpx.Response) -> str:
    return next(value for value in response.headers.get_list("set-cookie") if value.startswith("cais_console="))


def test_login_sets_a_strict_httponly_session_cookie_and_logout_ends_it(seeded: Seeded) -> None:
    client = seeded.client()
    before = client.get("/ui/login")
    assert "Log in" in before.text and "cais_console=" in _cookie_header(before)
    visitor_cookie = client.http.cookies["cais_console"]
    refused = client.post("/ui/login", {"name": "admin", "password": "not-the-password-42", "next": "/ui/repositories"})
    assert refused.status_code == 401 and "Unknown name or wrong password" in refused.text
    # The name stays, never the password.
    assert 'value="admin"' in refused.text and "not-the-password-42" not in refused.text

    response = client.post("/ui/login", {"name": "admin", "password": PASSWORD, "next": APP})
    assert response.status_code == 303 and response.headers["location"] == APP
    cookie = _cookie_header(response)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie and "Secure" not in cookie
    assert client.http.cookies["cais_console"] != visitor_cookie  # a new value at login: no session fixation
    session_cookie = client.http.cookies["cais_console"]
    assert "admin · Log out" in client.get("/ui/repositories").text

    assert client.post("/ui/logout").status_code == 303
    stolen = httpx.get(f"{seeded.url}/ui/repositories", cookies={"cais_console": session_cookie})
    assert "Log out" not in stolen.text and "team/app" not in stolen.text  # the old session is gone


def test_the_cookie_is_secure_behind_tls(seeded: Seeded) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1: a TLS-terminating proxy on the same host.
    response = httpx.get(f"{seeded.url}/ui/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in _cookie_header(response)


def test_a_robot_cannot_log_in_to_the_console(seeded: Seeded) -> None:
    admin = seeded.client(seeded.admin)
    admin.get("/ui/access/robots")
    created = admin.post("/ui/access/robots", {"name": "ci-bot", "patterns": "team/*", "actions": "pull"})
    secret = re.search(r'id="robot-secret">([^<]+)<', created.text)
    assert secret is not None
    client = seeded.client()
    client.get("/ui/login")
    response = client.post("/ui/login", {"name": "ci-bot", "password": secret.group(1), "next": "/ui/"})
    assert response.status_code == 401


def test_every_form_needs_this_browsers_csrf_token(seeded: Seeded) -> None:
    pusher = seeded.client(seeded.pusher)
    url = f"{APP}/-/images/{seeded.app_digests[0]}/retag"
    other = seeded.client(seeded.pusher)  # another browser of the same user: another token
    for data, headers in [
        ({}, {}),  # no token
        ({"csrf": "0" * 64}, {}),  # a wrong one
        ({"csrf": other.token}, {}),  # another browser's
        ({"csrf": pusher.token}, {"Sec-Fetch-Site": "cross-site"}),  # sent by another site's page
    ]:
        response = pusher.http.post(url, data={"tag": "forged", **data}, headers=headers)
        assert response.status_code == 403 and "Form expired" in response.text, data
    assert pusher.post(url, {"tag": "csrf-ok"}, headers={"HX-Request": "true"}).headers["HX-Redirect"]
    # htmx sends the token in a header instead of a field
    response = pusher.http.post(url, data={"tag": "by-header"}, headers={"X-CSRF-Token": pusher.token})
    assert response.status_code == 303
    assert "forged" not in seeded.registry.basic(seeded.admin).request("GET", "/v2/team/app/tags/list").text


def test_pull_only_users_see_but_change_nothing(seeded: Seeded) -> None:
    puller = seeded.client(seeded.puller)
    digest = seeded.app_digests[1]
    page = puller.get(f"{APP}/-/images/{digest}")
    assert page.status_code == 200 and "Tag this image" not in page.text and "Delete image" not in page.text
    for path, data in [
        (f"{APP}/-/images/{digest}/retag", {"tag": "mine"}),
        (f"{APP}/-/images/{digest}/delete", {}),
        (f"{APP}/-/images/{digest}/tags/v1/delete", {}),
        (f"{APP}/-/lifecycle/preview", {"policy": ""}),
        (f"{APP}/-/settings", {"tag_mutability": "IMMUTABLE"}),
        ("/ui/access/users", {"name": "sneaky", "password": PASSWORD, "repeat": PASSWORD}),
        ("/ui/webhooks/any/redeliver", {"since": "1h"}),
    ]:
        assert puller.post(path, data).status_code == 403, path
    for path in ("/ui/access/users", "/ui/access/robots", "/ui/access/permissions", "/ui/webhooks"):
        response = puller.get(path)
        assert response.status_code == 403 and "Only administrators" in response.text
    assert ">Access<" not in puller.get("/ui/repositories").text and ">Webhooks<" not in puller.get("/ui").text
    missing_page = puller.get("/ui/no/such/page")
    assert missing_page.status_code == 404 and "no such page" in missing_page.text
    # Outside its patterns, an existing and a missing repository answer alike.
    hidden, missing = puller.get("/ui/repositories/private/db"), puller.get("/ui/repositories/private/nothing")
    assert hidden.status_code == missing.status_code == 403
    assert seeded.registry.basic(seeded.admin).get_manifest("team/app", "v1").status_code == 200


def test_anonymous_visitors_see_only_what_anonymous_may_pull(seeded: Seeded) -> None:
    visitor = seeded.client()
    listing = visitor.get("/ui/repositories")
    assert "public/tool" in listing.text and "team/app" not in listing.text and "Log in" in listing.text
    assert visitor.get("/ui/repositories/public/tool").status_code == 200
    refused = visitor.get(APP)
    assert refused.status_code == 303
    assert refused.headers["location"] == "/ui/login?next=%2Fui%2Frepositories%2Fteam%2Fapp"
    assert visitor.get("/ui/access/users").status_code == 303
    assert visitor.post(f"/ui/repositories/public/tool/-/images/{seeded.arm}/delete").status_code == 303


def test_html_in_labels_annotations_and_descriptions_is_shown_as_text(seeded: Seeded) -> None:
    admin = seeded.client(seeded.admin)
    admin.get("/ui/repositories/public/labels/-/settings")
    described = {"tag_mutability": "MUTABLE", "exclusions": "", "description": SCRIPT}
    assert admin.post("/ui/repositories/public/labels/-/settings", described).status_code == 303
    pages = [
        admin.get(f"/ui/repositories/public/tool/-/images/{seeded.arm}").text,  # config labels, annotations
        admin.get("/ui/repositories/public/labels/-/settings").text,  # resource tags, description
        admin.get("/ui/repositories/public/labels").text,
    ]
    for text in pages:
        assert "<script>alert" not in text and "<img src=x" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in pages[0]
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in pages[0]
    assert "&lt;b&gt;bold&lt;/b&gt;" in pages[1] and "&lt;script&gt;" in pages[2]  # label; description
    # A search for markup comes back as text too.
    found = admin.get("/ui/repositories", params={"q": "<script>"})
    assert "<script>" not in found.text and "&lt;script&gt;" in found.text


def test_pages_carry_a_strict_content_security_policy(seeded: Seeded) -> None:
    response = seeded.client().get("/ui/repositories")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["cache-control"] == "no-store" and response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text.replace('<script src="', "")  # no inline script


def test_vendored_files_are_the_pinned_ones(seeded: Seeded) -> None:
    table = (DIRECTORY / "VENDORED.md").read_text()
    for name, digest in re.findall(r"^\| (\S+) \|.*\| ([0-9a-f]{64}) \|$", table, re.M):
        assert hashlib.sha256((DIRECTORY / name).read_bytes()).hexdigest() == digest
        response = httpx.get(f"{seeded.url}/ui/static/{name}")
        assert response.status_code == 200 and "immutable" in response.headers["cache-control"]
        assert hashlib.sha256(response.content).hexdigest() == digest
    assert httpx.get(f"{seeded.url}/ui/static/..%2Fweb.py").status_code == 404


def test_repository_and_image_pages(seeded: Seeded) -> None:
    admin = seeded.client(seeded.admin)
    listing = admin.get("/ui/repositories", params={"q": "tool"})
    assert "public/tool" in listing.text and "team/app" not in listing.text
    tool = admin.get("/ui/repositories/public/tool").text.split('id="image-rows"')[1]
    assert seeded.index[:19] in tool and seeded.arm[:19] not in tool  # platform manifests and referrers fold in
    everything = admin.get("/ui/repositories/public/tool", params={"all": "1"}).text.split('id="image-rows"')[1]
    assert seeded.arm[:19] in everything and seeded.referrer[:19] in everything
    index = admin.get(f"/ui/repositories/public/tool/-/images/{seeded.index}").text
    assert "linux/arm64" in index and "linux/amd64" in index and "simplesigning" in index  # platforms, referrer
    assert f"docker pull 127.0.0.1:{seeded.registry.server.port}/public/tool@{seeded.index}" in index
    image = admin.get(f"/ui/repositories/public/tool/-/images/{seeded.arm}").text
    assert "Layers" in image and "application/vnd.oci.image.layer.v1.tar+gzip" in image and "Listed by" in image
    settings = admin.get(f"{APP}/-/settings").text
    assert "ecr describe-images --repository-name team/app" in settings and "Change settings" in settings


def test_lists_page_by_keyset_without_repeats(seeded: Seeded) -> None:
    admin = seeded.client(seeded.admin)
    seen: list[str] = []
    url: str | None = APP
    while url:
        page = admin.get(url).text
        seen += re.findall(r'<code class="digest" title="(sha256:[0-9a-f]{64})"', page.split('id="image-rows"')[1])
        found = re.search(r'href="([^"]+)" rel="next"', page)
        url = found.group(1).replace("&amp;", "&") if found else None
    present = [digest for digest in reversed(seeded.app_digests) if digest in seen]  # other tests delete some
    assert len(present) > 5 and seen[: len(present)] == present  # newest first, over pages of 5
    assert len(seen) == len(set(seen))
    found_tag = admin.get(APP, params={"q": "v3"}, headers={"HX-Request": "true"})
    assert found_tag.text.startswith('<div id="image-rows"') and seeded.app_digests[3] in found_tag.text
    assert seeded.app_digests[4] not in found_tag.text


def test_retag_delete_and_the_tag_history_says_who(seeded: Seeded) -> None:
    pusher = seeded.client(seeded.pusher)
    digest = seeded.app_digests[2]
    done = pusher.post(f"{APP}/-/images/{digest}/retag", {"tag": "stable"}).headers["location"]
    assert done == f"{APP}/-/images/{digest}?notice=retagged"
    page = pusher.get(done)
    assert "The tag now points to this image." in page.text and ">stable<" in page.text
    assert pusher.post(f"{APP}/-/images/{digest}/tags/stable/delete").status_code == 303
    assert pusher.post(f"{APP}/-/images/{seeded.app_digests[0]}/delete").status_code == 303
    history = pusher.get(f"{APP}/-/history").text
    assert history.count('<span class="actor">pusher</span>') >= 3  # created, removed, deleted with the image
    gone = pusher.get(f"{APP}/-/images/{seeded.app_digests[0]}")
    assert gone.status_code == 404
    refused = pusher.post(f"{APP}/-/images/{digest}/retag", {"tag": "bad tag!"}, headers={"HX-Request": "true"})
    assert refused.status_code == 400 and refused.headers["HX-Retarget"] == "#flash" and "invalid tag" in refused.text


def test_lifecycle_preview_explains_each_image(seeded: Seeded) -> None:
    admin = seeded.client(seeded.admin)
    policy = (
        '{"rules": [{"rulePriority": 1, "description": "keep three", "selection": {"tagStatus": "tagged",'
        ' "tagPatternList": ["v*"], "countType": "imageCountMoreThan", "countNumber": 3},'
        ' "action": {"type": "expire"}}]}'
    )
    admin.get("/ui/repositories/public/tool/-/lifecycle")
    bad = admin.post("/ui/repositories/public/tool/-/lifecycle/preview", {"policy": '{"rules": 5}'})
    assert bad.status_code == 400
    response = admin.post(
        "/ui/repositories/public/tool/-/lifecycle/preview", {"policy": policy}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and response.text.startswith('<section id="preview">')
    assert "No image would expire" in response.text  # public/tool has no v* tags
    preview = admin.post(f"{APP}/-/lifecycle/preview", {"policy": policy}, headers={"HX-Request": "true"}).text
    assert 'class="expiring-count">' in preview and "rule 1" in preview and "imageCountMoreThan" in preview
    assert admin.post(f"{APP}/-/lifecycle/policy", {"policy": policy}).status_code == 303
    assert "keep three" in admin.get(f"{APP}/-/lifecycle").text


def test_the_activity_region_polls_itself(seeded: Seeded) -> None:
    admin = seeded.client(seeded.admin)
    region = admin.get(f"{APP}/-/activity", headers={"HX-Request": "true"}).text
    assert region.startswith('<div id="activity" class="live" hx-get="/ui/repositories/team/app/-/activity"')
    assert 'hx-trigger="every 1s"' in region and 'hx-swap="outerHTML"' in region


def test_administrators_manage_access(seeded: Seeded) -> None:
    admin = seeded.client(seeded.admin)
    admin.get("/ui/access/robots")
    created = admin.post("/ui/access/robots", {"name": "deployer", "patterns": "team/*\npublic/*", "actions": "pull"})
    secret = re.search(r'id="robot-secret">(cais_[^<]+)<', created.text)
    assert secret is not None and "not shown again" in created.text
    assert httpx.get(f"{seeded.url}/v2/", auth=("deployer", secret.group(1))).status_code == 200
    listing = admin.get("/ui/access/robots").text
    assert "deployer" in listing and secret.group(1) not in listing
    assert admin.post("/ui/access/robots/deployer/revoke").status_code == 303
    assert httpx.get(f"{seeded.url}/v2/", auth=("deployer", secret.group(1))).status_code == 401
    aws = admin.post("/ui/access/robots", {"name": "aws-bot", "patterns": "team/*", "actions": "pull", "aws": "on"})
    assert "AWS_ACCESS_KEY_ID=AKIA" in aws.text and "AWS_SECRET_ACCESS_KEY=" in aws.text
    duplicate = admin.post("/ui/access/users", {"name": "puller", "password": PASSWORD, "repeat": PASSWORD})
    assert duplicate.status_code == 409
    assert admin.post("/ui/access/users", {"name": "x", "password": "short", "repeat": "short"}).status_code == 400
    assert (
        admin.post(
            "/ui/access/permissions", {"kind": "anonymous", "subject": "", "pattern": "team/*", "actions": "push"}
        ).status_code
        == 400
    )
    assert admin.post("/ui/access/users/admin/delete").status_code == 400  # not oneself
