"""The security requirements of access control, each one a test against a real `cais serve`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conformance.client import Registry, digest_of, error_code, make_image
from tests.api.rawhttp import raw_request
from tests.support.auth import AUTH_ENV, AuthRegistry, uid
from tests.support.server import ServerProcess, free_port


# -- forged and foreign tokens ----------------------------------------------------------------
def _signing_key(data_dir: Path) -> tuple[str, ec.EllipticCurvePrivateKey]:
    keys = data_dir / "auth" / "signing-keys"
    kid = (keys / "current").read_text().strip()
    key = serialization.load_pem_private_key((keys / f"{kid}.pem").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return kid, key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _forgeries(data_dir: Path, repo: str, subject: str) -> dict[str, str]:
    kid, key = _signing_key(data_dir)
    now = int(time.time())
    good = {
        "iss": "cais",
        "sub": subject,
        "aud": "cais",
        "exp": now + 300,
        "nbf": now,
        "iat": now,
        "jti": "x",
        "access": [{"type": "repository", "name": repo, "actions": ["pull", "push"]}],
    }

    def signed(**changes: object) -> str:
        return jwt.encode({**good, **changes}, key, algorithm="ES256", headers={"kid": kid})

    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_body = _unsigned({"alg": "HS256", "typ": "JWT", "kid": kid}, good)
    hs_signature = _b64(hmac.new(public_pem, hs_body.encode(), hashlib.sha256).digest())
    genuine = signed(access=[{"type": "repository", "name": repo, "actions": ["pull"]}])
    head, _, signature = genuine.split(".")
    other_key = ec.generate_private_key(ec.SECP256R1())
    return {
        "genuine-pull-only": genuine,  # the control: it works, for pull
        "alg-none": _unsigned({"alg": "none", "typ": "JWT"}, good) + ".",
        "hmac-with-public-key": f"{hs_body}.{hs_signature}",
        "another-service": signed(aud="another-registry"),
        "another-issuer": signed(iss="someone-else"),
        "expired": signed(exp=now - 120, nbf=now - 600, iat=now - 600),
        "not-yet-valid": signed(nbf=now + 600, iat=now),
        "tampered-claim": f"{head}.{_b64(json.dumps(good).encode())}.{signature}",
        "unknown-key": jwt.encode(good, other_key, algorithm="ES256", headers={"kid": kid}),
        "no-expiry": jwt.encode(
            {k: v for k, v in good.items() if k != "exp"}, key, algorithm="ES256", headers={"kid": kid}
        ),
        "garbage": "not-a-jwt",
    }


def test_forged_and_foreign_tokens_are_refused(auth_registry: AuthRegistry) -> None:
    repo = uid("forge/")
    subject, _ = auth_registry.user((repo, "admin"))
    forgeries = _forgeries(auth_registry.data_dir, repo, subject)
    genuine = auth_registry.bearer(forgeries.pop("genuine-pull-only"))
    # The genuine token is used (and cached) first: a tampered copy must not ride on the cache.
    assert genuine.request("GET", f"/v2/{repo}/tags/list").status_code == 404
    assert genuine.request("POST", f"/v2/{repo}/blobs/uploads/").status_code in (401, 403)
    for name, token in forgeries.items():
        response = auth_registry.bearer(token).request("GET", f"/v2/{repo}/tags/list")
        assert response.status_code == 401, name
        assert response.json()["errors"][0]["code"] == "UNAUTHORIZED", name
        assert response.json()["errors"][0]["detail"] == [{"Type": "repository", "Name": repo, "Action": "pull"}]
        assert 'error="invalid_token"' in response.headers["www-authenticate"], name


# -- permissions on every endpoint -----------------------------------------------------------
def _write_requests(
    repo: str, location: str, manifest_digest: str, blob: bytes
) -> list[tuple[str, str, dict[str, object]]]:
    blob_digest = digest_of(blob)
    return [
        ("POST", f"/v2/{repo}/blobs/uploads/", {}),
        ("POST", f"/v2/{repo}/blobs/uploads/", {"params": {"digest": digest_of(b"new")}, "content": b"new"}),
        ("POST", f"/v2/{repo}/blobs/uploads/", {"params": {"mount": blob_digest, "from": repo}}),
        ("GET", location, {}),
        ("PATCH", location, {"content": b"more", "headers": {"Content-Type": "application/octet-stream"}}),
        ("PUT", location, {"params": {"digest": digest_of(b"more")}, "content": b"more"}),
        ("DELETE", location, {}),
        ("PUT", f"/v2/{repo}/manifests/hijack", {"content": b"{}", "headers": {"Content-Type": "application/json"}}),
        ("DELETE", f"/v2/{repo}/manifests/{manifest_digest}", {}),
        ("DELETE", f"/v2/{repo}/manifests/v1", {}),
        ("DELETE", f"/v2/{repo}/blobs/{blob_digest}", {}),
    ]


def test_pull_only_principals_are_refused_every_write(auth_registry: AuthRegistry) -> None:
    repo = uid("ro/")
    admin = auth_registry.basic(auth_registry.user(("*", "admin")))
    image = make_image()
    assert admin.push_image(repo, image, "v1").status_code == 201
    location = admin.start_upload(repo)
    reader = auth_registry.user((repo, "pull"))
    robot = auth_registry.robot([repo], "pull")
    callers: dict[str, tuple[Registry, set[int]]] = {
        "anonymous": (Registry(auth_registry.url), {401}),
        "basic-user": (auth_registry.basic(reader), {403}),
        "basic-robot": (auth_registry.basic(robot), {403}),
        "bearer-user": (auth_registry.as_token(reader, f"repository:{repo}:*"), {403}),
        "bearer-robot": (auth_registry.as_token(robot, f"repository:{repo}:pull,push,delete"), {403}),
    }
    for who, (client, refused) in callers.items():
        for method, path, kwargs in _write_requests(repo, location, image.digest, image.layers[0]):
            response = client.request(method, path, **kwargs)
            assert response.status_code in refused, (who, method, path, response.status_code, response.text)
            assert error_code(response) == ("UNAUTHORIZED" if 401 in refused else "DENIED")
        if who != "anonymous":
            assert client.get_manifest(repo, "v1").status_code == 200, who
    # Nothing changed: the session, the manifest, the tag and the blob are all still there.
    assert admin.request("GET", location).headers["range"] == "0-0"
    assert admin.get_manifest(repo, "v1").status_code == 200
    assert admin.request("HEAD", f"/v2/{repo}/blobs/{digest_of(image.layers[0])}").status_code == 200


def test_push_token_stays_in_its_repository(auth_registry: AuthRegistry) -> None:
    team = uid("team")
    admin = auth_registry.basic(auth_registry.user(("*", "admin")))
    secret_blob = os.urandom(2048)
    admin.push_blob(f"{team}/secret", secret_blob)
    readable_blob = os.urandom(2048)
    admin.push_blob(f"{team}/shared", readable_blob)
    robot = auth_registry.robot([f"{team}/a"], "pull,push")
    auth_registry.grant(["--robot", robot[0]], f"{team}/shared", "pull")
    foreign_session = admin.start_upload(f"{team}/b").rsplit("/", 1)[1]
    scopes = (f"repository:{team}/a:pull,push", f"repository:{team}/b:pull,push", f"repository:{team}/secret:pull")
    for client in (
        auth_registry.as_token(robot, *scopes, f"repository:{team}/shared:pull"),
        auth_registry.basic(robot),
    ):
        assert client.push_image(f"{team}/a", make_image()).status_code == 201
        response = client.request("POST", f"/v2/{team}/b/blobs/uploads/")
        assert response.status_code == 403 and error_code(response) == "DENIED"
        # team/b's upload session can be reached neither through its own name nor through team/a.
        assert client.request("PATCH", f"/v2/{team}/b/blobs/uploads/{foreign_session}", content=b"x").status_code == 403
        hijack = client.request("PATCH", f"/v2/{team}/a/blobs/uploads/{foreign_session}", content=b"x")
        assert hijack.status_code == 404 and error_code(hijack) == "BLOB_UPLOAD_UNKNOWN"
        # Mounting from a repository it cannot pull opens a plain upload session, as if the blob did not exist.
        mount = {"mount": digest_of(secret_blob), "from": f"{team}/secret"}
        response = client.request("POST", f"/v2/{team}/a/blobs/uploads/", params=mount)
        assert response.status_code == 202 and "/blobs/uploads/" in response.headers["location"]
        assert admin.request("HEAD", f"/v2/{team}/a/blobs/{digest_of(secret_blob)}").status_code == 404
        missing = {"mount": digest_of(b"nothing"), "from": f"{team}/secret"}
        assert client.request("POST", f"/v2/{team}/a/blobs/uploads/", params=missing).status_code == 202
        # From a repository it may pull, the mount works.
        mount = {"mount": digest_of(readable_blob), "from": f"{team}/shared"}
        assert client.request("POST", f"/v2/{team}/a/blobs/uploads/", params=mount).status_code == 201
        image = make_image()
        client.push_image(f"{team}/a", image, "v1")
        assert client.request("DELETE", f"/v2/{team}/a/manifests/{image.digest}").status_code == 403


def test_bearer_token_without_a_scope_its_subject_has_gets_a_new_challenge(auth_registry: AuthRegistry) -> None:
    repo = uid("wide/")
    user = auth_registry.user((repo, "pull,push"))
    narrow = auth_registry.as_token(user, f"repository:{repo}:pull")
    response = narrow.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert response.status_code == 401
    assert f'scope="repository:{repo}:pull,push",error="insufficient_scope"' in response.headers["www-authenticate"]


def test_revocation_deletion_and_removed_permissions_apply_to_bearer_tokens_at_once(
    auth_registry: AuthRegistry,
) -> None:
    """A bearer token outlives none of them: the next request with it is refused."""
    repo = uid("revoked/")
    scope = f"repository:{repo}:pull,push"
    user, robot = auth_registry.user((repo, "pull,push")), auth_registry.robot([repo], "pull,push")
    blob = f"/v2/{repo}/blobs/{auth_registry.basic(user).push_blob(repo, b'kept')}"
    tokens = {"user": auth_registry.as_token(user, scope), "robot": auth_registry.as_token(robot, scope)}
    for registry in tokens.values():
        assert registry.request("HEAD", blob).status_code == 200
        assert registry.request("POST", f"/v2/{repo}/blobs/uploads/").status_code == 202
    auth_registry.cli("perm", "revoke", "--user", user[0], "--repo", repo, "--actions", "push")
    assert tokens["user"].request("HEAD", blob).status_code == 200
    denied = tokens["user"].request("POST", f"/v2/{repo}/blobs/uploads/")
    assert denied.status_code == 403 and error_code(denied) == "DENIED"
    auth_registry.cli("user", "delete", user[0])
    auth_registry.cli("token", "revoke", robot[0])
    for who, registry in tokens.items():
        refused = registry.request("HEAD", blob)
        assert refused.status_code == 401, who
        assert 'error="invalid_token"' in refused.headers["www-authenticate"], who


# -- catalog --------------------------------------------------------------------------------
def test_catalog_lists_only_pullable_repositories(start_server: Callable[..., ServerProcess]) -> None:
    registry = AuthRegistry(start_server(env=AUTH_ENV))
    admin = registry.basic(registry.user(("*", "admin")))
    names = [f"{prefix}/{i}" for prefix in ("mine", "other", "pub") for i in range(4)]
    for name in names:
        admin.push_blob(name, name.encode())
    user = registry.user(("mine/*", "pull"), ("other/2", "push"))
    registry.grant(["--anonymous"], "pub/1", "pull")
    expected = ["mine/0", "mine/1", "mine/2", "mine/3", "pub/1"]
    for client in (registry.basic(user), registry.as_token(user, "registry:catalog:*")):
        seen: list[str] = []
        path = "/v2/_catalog?n=2"
        while path:
            response = client.request("GET", path)
            assert response.status_code == 200, response.text
            seen += response.json()["repositories"]
            assert len(response.json()["repositories"]) <= 2
            link = response.headers.get("link")
            path = link.split(";")[0].strip("<>") if link else ""
        assert seen == expected
    anonymous = registry.as_token(None, "registry:catalog:*")
    assert anonymous.request("GET", "/v2/_catalog").json()["repositories"] == ["pub/1"]
    assert admin.request("GET", "/v2/_catalog").json()["repositories"] == sorted(names)
    no_scope = registry.as_token(user)
    assert no_scope.request("GET", "/v2/_catalog").status_code == 401


# -- names ----------------------------------------------------------------------------------
TRICKS = [
    "%2e%2e/etc",
    "../../etc/passwd",
    "a/../../b",
    "a/..%2f..%2fb",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "%D0%B0pp",  # Cyrillic a
    "a%E2%88%95b",  # division slash
    "app%00",
    "./app",
    "a/%2E/b",
]
ENDPOINTS = [
    ("GET", "manifests/latest"),
    ("PUT", "manifests/latest"),
    ("DELETE", f"manifests/sha256:{'a' * 64}"),
    ("GET", "tags/list"),
    ("GET", f"referrers/sha256:{'a' * 64}"),
    ("GET", f"blobs/sha256:{'a' * 64}"),
    ("DELETE", f"blobs/sha256:{'a' * 64}"),
    ("POST", "blobs/uploads/"),
    ("PATCH", "blobs/uploads/some-id"),
]


@pytest.mark.parametrize("name", TRICKS)
def test_path_tricks_are_invalid_names_for_everyone(auth_registry: AuthRegistry, name: str) -> None:
    for method, rest in ENDPOINTS:
        status, _, body = raw_request(auth_registry.url, method, f"/v2/{name}/{rest}")
        assert status == 400, (method, name, rest, status, body)
        assert json.loads(body)["errors"][0]["code"] == "NAME_INVALID"


# -- brute force, logs, keys ------------------------------------------------------------------
def test_failed_logins_are_limited_per_address_and_account_across_processes(
    start_server: Callable[..., ServerProcess],
) -> None:
    env = {**AUTH_ENV, "CAIS_AUTH__FAILURE_LIMIT": "3", "CAIS_AUTH__FAILURE_WINDOW": "1h"}
    first = start_server(env=env, args=["--workers", "2"])
    second = start_server(data_dir=first.data_dir, env=env)  # a second replica on the same database
    registry = AuthRegistry(first)
    user = registry.user()
    attacker = {"X-Forwarded-For": "192.0.2.7"}  # uvicorn trusts this header from loopback peers
    for attempt, server in enumerate([first, second, first]):
        response = httpx.get(f"{server.url}/token", auth=(user[0], f"guess-{attempt}"), headers=attacker)
        assert response.status_code == 401
    for server, credentials in ((second, (user[0], "guess-4")), (first, user)):
        response = httpx.get(f"{server.url}/v2/", auth=credentials, headers=attacker)
        assert response.status_code == 429 and error_code(response) == "TOOMANYREQUESTS"
        assert 3000 < int(response.headers["retry-after"]) <= 3600
    response = httpx.get(f"{second.url}/v2/", auth=user, headers={"X-Forwarded-For": "192.0.2.8"})
    assert response.status_code == 200
    # Another account behind the same address (a CI runner sharing the NAT) is not locked out.
    robot = registry.robot(["ci/*"], "pull")
    assert httpx.get(f"{first.url}/v2/", auth=robot, headers=attacker).status_code == 200


def test_secrets_never_reach_the_logs(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env={**AUTH_ENV, "CAIS_LOG__LEVEL": "debug"})
    registry = AuthRegistry(server)
    user = registry.user(("app", "pull,push"), password="Sup3r-secret-passphrase")
    robot = registry.robot(["app"], "pull,push")
    answer = registry.token(user, "repository:app:pull,push", offline_token="true")
    form = {"grant_type": "refresh_token", "refresh_token": answer["refresh_token"], "service": "cais"}
    refreshed = httpx.post(f"{server.url}/token", data=form).json()
    form = {"grant_type": "password", "username": robot[0], "password": robot[1], "service": "cais"}
    assert httpx.post(f"{server.url}/token", data=form).status_code == 200
    registry.basic(user).push_image("app", make_image())
    registry.bearer(refreshed["access_token"]).get_manifest("app", "latest")
    httpx.get(f"{server.url}/token", auth=(user[0], "Wr0ng-guess-passphrase"))
    server.stop()
    log = server.log()
    assert '"route": "get_token"' in log and "token issued" in log
    secrets = [user[1], "Wr0ng-guess-passphrase", robot[1], answer["token"], answer["refresh_token"]]
    secrets += [refreshed["access_token"], base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()]
    for secret in secrets:
        assert secret not in log
        assert secret.split(".")[-1] not in log  # not even a JWT's signature


def test_signing_keys_are_private_and_rotate(auth_registry: AuthRegistry) -> None:
    keys = auth_registry.data_dir / "auth" / "signing-keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for pem in keys.glob("*.pem"):
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    repo = uid("rot/")
    user = auth_registry.user((repo, "pull"))
    old = auth_registry.token(user, f"repository:{repo}:pull")["token"]
    old_kid = jwt.get_unverified_header(old)["kid"]
    new_kid = auth_registry.cli("auth", "rotate-key").stdout.strip()
    new = auth_registry.token(user, f"repository:{repo}:pull")["token"]
    assert jwt.get_unverified_header(new)["kid"] == new_kid != old_kid
    assert stat.S_IMODE((keys / f"{new_kid}.pem").stat().st_mode) == 0o600
    for token in (old, new):
        assert auth_registry.bearer(token).request("GET", f"/v2/{repo}/tags/list").status_code == 404
    assert auth_registry.cli("auth", "remove-key", new_kid, check=False).returncode == 1  # it signs: refused
    auth_registry.cli("auth", "remove-key", old_kid)
    response = auth_registry.bearer(old).request("GET", f"/v2/{repo}/tags/list")
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]


def test_public_address_is_allowed_once_auth_is_enabled(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    port = free_port()
    server = start_server(port=port, args=["--listen", f"0.0.0.0:{port}"], env=AUTH_ENV)
    assert httpx.get(f"{server.url}/v2/").status_code == 401


def test_failures_are_counted_in_the_database(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env=AUTH_ENV)
    httpx.get(f"{server.url}/token", auth=("nobody", "nothing"), headers={"X-Forwarded-For": "198.51.100.9"})
    with sqlite3.connect(server.data_dir / "metadata.db") as db:
        counted = db.execute("SELECT client, failures FROM auth_failures").fetchall()
    assert sorted(kind for kind, _ in (row[0].split(":") for row in counted)) == ["a", "c", "p"]
    assert all(failures == 1 for _, failures in counted)
    assert not any("198.51.100.9" in key or "nobody" in key for key, _ in counted), "hashed, not in clear"
