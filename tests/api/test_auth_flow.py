"""The Docker token flow against a real `cais serve` with [auth] enabled: challenges, the GET
and OAuth2 POST token endpoint, refresh tokens, Basic credentials sent straight to /v2/."""

from __future__ import annotations

import base64
import sqlite3
import string
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.client import error_code, make_image
from tests.support.auth import AUTH_ENV, PASSWORD, AuthRegistry, uid
from tests.support.server import ServerProcess


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_v2_challenges_without_credentials(auth_registry: AuthRegistry) -> None:
    url = auth_registry.url
    response = httpx.get(f"{url}/v2/")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer realm="{url}/token",service="cais"'
    assert error_code(response) == "UNAUTHORIZED"

    response = httpx.get(f"{url}/v2/team/app/manifests/latest")
    assert response.status_code == 401
    challenge = f'Bearer realm="{url}/token",service="cais",scope="repository:team/app:pull"'
    assert response.headers["www-authenticate"] == challenge
    assert response.json()["errors"][0]["detail"] == [{"Type": "repository", "Name": "team/app", "Action": "pull"}]

    response = httpx.post(f"{url}/v2/team/app/blobs/uploads/")
    assert 'scope="repository:team/app:pull,push"' in response.headers["www-authenticate"]
    response = httpx.delete(f"{url}/v2/team/app/manifests/sha256:{'a' * 64}")
    assert 'scope="repository:team/app:delete"' in response.headers["www-authenticate"]
    response = httpx.head(f"{url}/v2/team/app/manifests/latest")
    assert response.status_code == 401 and "www-authenticate" in response.headers


def test_realm_follows_public_url_setting(start_server: Callable[..., ServerProcess]) -> None:
    env = {**AUTH_ENV, "CAIS_AUTH__PUBLIC_URL": "https://registry.example", "CAIS_AUTH__SERVICE": "reg"}
    response = httpx.get(f"{start_server(env=env).url}/v2/")
    assert response.headers["www-authenticate"] == 'Bearer realm="https://registry.example/token",service="reg"'


def test_token_grants_the_intersection_of_scope_and_permissions(auth_registry: AuthRegistry) -> None:
    team = uid("team")
    user = auth_registry.user((f"{team}/app", "pull,push"), (f"{team}/ro", "pull"))
    answer = auth_registry.token(
        user,
        f"repository:{team}/app:pull,push,delete",
        f"repository:{team}/ro:pull,push",
        "repository:elsewhere/x:pull",
    )
    assert answer["token"] == answer["access_token"]
    assert answer["expires_in"] >= 60 and answer["issued_at"].endswith("Z")
    assert "refresh_token" not in answer
    claims = _claims(answer["token"])
    assert claims["sub"] == user[0] and claims["aud"] == "cais" and claims["iss"] == "cais"
    assert claims["access"] == [
        {"type": "repository", "name": f"{team}/app", "actions": ["pull", "push"]},
        {"type": "repository", "name": f"{team}/ro", "actions": ["pull"]},
        {"type": "repository", "name": "elsewhere/x", "actions": []},
    ]
    registry = auth_registry.bearer(answer["token"])
    assert registry.request("GET", "/v2/").status_code == 200
    assert registry.push_image(f"{team}/app", make_image()).status_code == 201


def test_scopes_in_one_parameter_and_the_catalog_scope(auth_registry: AuthRegistry) -> None:
    team = uid("team")
    user = auth_registry.user((f"{team}/*", "admin"))
    claims = _claims(
        auth_registry.token(user, f"repository:{team}/a:* repository:{team}/b:pull registry:catalog:*")["token"]
    )
    assert claims["access"] == [
        {"type": "repository", "name": f"{team}/a", "actions": ["admin", "delete", "pull", "push"]},
        {"type": "repository", "name": f"{team}/b", "actions": ["pull"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]},
    ]


def test_anonymous_token_and_public_repositories(auth_registry: AuthRegistry) -> None:
    public, private = uid("pub"), uid("priv")
    admin = auth_registry.user(("*", "admin"))
    image = make_image()
    for repo in (f"{public}/app", f"{private}/app"):
        assert auth_registry.basic(admin).push_image(repo, image, "v1").status_code == 201
    auth_registry.grant(["--anonymous"], f"{public}/*", "pull")

    answer = auth_registry.token(None, f"repository:{public}/app:pull,push", f"repository:{private}/app:pull")
    assert _claims(answer["token"])["sub"] == ""
    assert [entry["actions"] for entry in _claims(answer["token"])["access"]] == [["pull"], []]
    anonymous = auth_registry.bearer(answer["token"])
    assert anonymous.get_manifest(f"{public}/app", "v1").status_code == 200
    response = anonymous.get_manifest(f"{private}/app", "v1")
    assert response.status_code == 401 and 'error="insufficient_scope"' in response.headers["www-authenticate"]
    # Public repositories also answer plain anonymous requests (curl), without a token.
    assert httpx.get(f"{auth_registry.url}/v2/{public}/app/tags/list").json()["tags"] == ["v1"]
    assert httpx.get(f"{auth_registry.url}/v2/{private}/app/tags/list").status_code == 401
    # Logged-in users may pull what anonymous may.
    someone = auth_registry.user()
    assert auth_registry.basic(someone).get_manifest(f"{public}/app", "v1").status_code == 200


def test_basic_credentials_straight_to_v2(auth_registry: AuthRegistry) -> None:
    team = uid("team")
    user = auth_registry.user((f"{team}/*", "pull,push"))
    registry = auth_registry.basic(user)
    assert registry.request("GET", "/v2/").status_code == 200
    image = make_image()
    assert registry.push_image(f"{team}/app", image, "v1").status_code == 201
    assert registry.get_manifest(f"{team}/app", "v1").status_code == 200
    wrong = auth_registry.basic((user[0], "not the password"))
    response = wrong.request("GET", "/v2/")
    assert response.status_code == 401 and error_code(response) == "UNAUTHORIZED"
    assert response.headers["www-authenticate"].startswith("Bearer realm=")


def test_robot_token_logs_in_and_is_limited_to_its_patterns(auth_registry: AuthRegistry) -> None:
    team = uid("team")
    robot = auth_registry.robot([f"{team}/*"], "pull,push")
    assert robot[1].startswith("cais_")
    registry = auth_registry.as_token(robot, f"repository:{team}/app:pull,push")
    assert registry.push_image(f"{team}/app", make_image()).status_code == 201
    listing = auth_registry.cli("token", "list", "--json").stdout
    assert robot[0] in listing and robot[1] not in listing


def test_refresh_tokens_get_and_post(auth_registry: AuthRegistry) -> None:
    team = uid("team")
    user = auth_registry.user((f"{team}/*", "pull"))
    refresh = auth_registry.token(user, offline_token="true", client_id="docker")["refresh_token"]
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh,
        "service": "cais",
        "client_id": "docker",
        "scope": f"repository:{team}/a:pull,push repository:{team}/b:pull",
    }
    response = httpx.post(f"{auth_registry.url}/token", data=form)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["refresh_token"] == refresh
    assert body["scope"] == f"repository:{team}/a:pull repository:{team}/b:pull"
    assert _claims(body["access_token"])["sub"] == user[0]

    for bad in ({"refresh_token": "made-up"}, {"service": "another-registry"}):
        response = httpx.post(f"{auth_registry.url}/token", data={**form, **bad})
        assert response.status_code in (400, 401), response.text

    auth_registry.cli("user", "passwd", user[0], "--password-stdin", stdin="a new password\n")
    response = httpx.post(f"{auth_registry.url}/token", data=form)
    assert response.status_code == 401, "a password change revokes refresh tokens"


def test_oauth_password_grant(auth_registry: AuthRegistry) -> None:
    team = uid("team")
    user = auth_registry.user((f"{team}/*", "pull,push"))
    form = {
        "grant_type": "password",
        "username": user[0],
        "password": user[1],
        "service": "cais",
        "client_id": "containerd-client",
        "access_type": "offline",
        "scope": f"repository:{team}/app:pull,push",
    }
    body = httpx.post(f"{auth_registry.url}/token", data=form).json()
    assert body["scope"] == f"repository:{team}/app:pull,push" and body["refresh_token"]
    registry = auth_registry.bearer(body["access_token"])
    assert registry.push_image(f"{team}/app", make_image()).status_code == 201

    response = httpx.post(f"{auth_registry.url}/token", data={**form, "password": "wrong password"})
    assert response.status_code == 401 and error_code(response) == "UNAUTHORIZED"
    response = httpx.post(f"{auth_registry.url}/token", data={**form, "grant_type": "authorization_code"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        [("service", "another-registry")],
        [("service", "cais"), ("scope", "repository")],
        [("service", "cais"), ("scope", "repository:app")],
    ],
)
def test_token_request_errors(auth_registry: AuthRegistry, query: list[tuple[str, str]]) -> None:
    response = httpx.get(f"{auth_registry.url}/token", params=tuple(query))
    assert response.status_code == 400 and error_code(response) == "UNSUPPORTED"


def test_token_endpoint_refuses_wrong_credentials(auth_registry: AuthRegistry) -> None:
    user = auth_registry.user()
    for credentials in ((user[0], "wrong password"), ("nobody-" + user[0], user[1])):
        response = httpx.get(f"{auth_registry.url}/token", params={"service": "cais"}, auth=credentials)
        assert response.status_code == 401
        assert response.json()["errors"][0]["message"] == "incorrect username or password"
    response = httpx.get(f"{auth_registry.url}/token", headers={"Authorization": "Basic !!!"})
    assert response.status_code == 401


def test_revoked_and_expired_robots_are_refused(auth_registry: AuthRegistry) -> None:
    revoked = auth_registry.robot(["*"], "pull")
    auth_registry.basic(revoked).request("GET", "/v2/")  # warm the login cache: revocation must still win
    auth_registry.cli("token", "revoke", revoked[0])
    assert auth_registry.basic(revoked).request("GET", "/v2/").status_code == 401
    expired = auth_registry.robot(["*"], "pull", "--expires", "0.001s")
    response = httpx.get(f"{auth_registry.url}/token", params={"service": "cais"}, auth=expired)
    assert response.status_code == 401


AUTH_HEADERS = st.one_of(
    st.text(string.printable, max_size=60),
    st.sampled_from(
        ["Basic ", "Bearer ", "Basic \u00e9\u00e9==", "Bearer a.b.c", "Basic Og==", "bearer ..", "Digest x"]
    ),
    st.binary(max_size=40).map(lambda raw: "Basic " + base64.b64encode(raw).decode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/v2/", "/v2/_catalog", "/v2/a/tags/list", "/v2/a/blobs/uploads/", "/token"]),
    method=st.sampled_from(["GET", "POST", "HEAD"]),
    authorization=AUTH_HEADERS,
    query=st.lists(
        st.tuples(st.sampled_from(["service", "scope", "offline_token", "n"]), st.text(max_size=30)), max_size=4
    ),
    form=st.dictionaries(
        st.sampled_from(["grant_type", "username", "password", "refresh_token", "scope", "service", "access_type"]),
        st.text(max_size=30),
        max_size=5,
    ),
)
def test_no_credential_or_token_request_produces_a_500(
    auth_registry: AuthRegistry,
    path: str,
    method: str,
    authorization: str,
    query: list[tuple[str, str]],
    form: dict[str, str],
) -> None:
    headers = {b"Authorization": authorization.encode("latin-1", "replace").strip()}  # raw bytes, as a client may send
    try:
        response = httpx.request(
            method,
            auth_registry.url + path,
            params=tuple(query),
            headers=headers,
            data=form or None,
            timeout=60,
        )
    except httpx.LocalProtocolError:
        return  # httpx itself refuses the header (e.g. a newline): nothing reached the server
    assert response.status_code < 500, (method, path, headers, query, form, response.text)


def test_events_say_who_caused_them(auth_registry: AuthRegistry) -> None:
    """The principal of a Basic login and of a bearer token, the request id and the client address."""
    user, _ = auth_registry.user(("who/*", "pull,push"))
    robot, secret = auth_registry.robot(["who/*"], "pull,push")
    auth_registry.basic((user, PASSWORD)).push_image("who/basic", make_image(), "v1")
    scope = "repository:who/bearer:pull,push"
    auth_registry.as_token((robot, secret), scope).push_image("who/bearer", make_image(), "v1")
    with sqlite3.connect(auth_registry.data_dir / "metadata.db") as db:
        rows = db.execute(
            "SELECT repository, actor_kind, actor_name, request_id, address FROM events "
            "WHERE type = 'image.pushed' AND repository LIKE 'who/%' ORDER BY id"
        ).fetchall()
    assert [row[:3] for row in rows] == [("who/basic", "user", user), ("who/bearer", "robot", robot)]
    assert all(row[3] and row[4] == "127.0.0.1" for row in rows)


def test_the_webhook_api_is_for_administrators(auth_registry: AuthRegistry) -> None:
    api = f"{auth_registry.url}/api/v1/webhooks"
    assert httpx.get(api).status_code == 401
    team_admin = auth_registry.user(("team/*", "admin"))
    assert httpx.get(api, auth=(team_admin[0], PASSWORD)).status_code == 403, "admin of some repositories only"
    admin = auth_registry.user(("*", "admin"))
    assert httpx.get(api, auth=(admin[0], PASSWORD)).status_code == 200
