"""Bearer tokens: signing keys on disk, issuing, and every check of verification."""

from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from registry.auth.gate import Access
from registry.auth.keys import KeyRotationError, SigningKeys
from registry.auth.outcomes import SYSTEM, TokenInvalid, VerifiedToken
from registry.auth.scopes import Scope
from registry.auth.tokens import Tokens

PULL = [Scope("repository", "app", frozenset({"pull"}))]


@pytest.fixture
def keys(tmp_path: Path) -> SigningKeys:
    keys = SigningKeys(str(tmp_path / "auth"))
    keys.ensure()
    return keys


def test_keys_are_created_private(keys: SigningKeys) -> None:
    directory = Path(keys.directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = list(directory.iterdir())
    assert len(files) == 2  # the key and the `current` pointer
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_racing_processes_end_up_with_one_key(tmp_path: Path) -> None:
    rings = [SigningKeys(str(tmp_path / "auth")) for _ in range(8)]
    threads = [threading.Thread(target=ring.ensure) for ring in rings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(list(Path(rings[0].directory).glob("*.pem"))) == 1
    assert {ring.signer()[0] for ring in rings} == {rings[0].listing()[0].kid}


def test_issue_and_verify(keys: SigningKeys) -> None:
    tokens = Tokens(keys, "cais", "cais", 300)
    issued = tokens.issue("alice", PULL)
    assert issued.expires_in == 300
    verified = tokens.verify(issued.token)
    assert verified.subject == "alice"
    assert verified.actions("repository", "app") == {"pull"}
    assert verified.actions("repository", "other") == frozenset()
    header = jwt.get_unverified_header(issued.token)
    assert header["alg"] == "ES256" and header["kid"] == keys.signer()[0]


def test_verification_checks_audience_issuer_and_time(keys: SigningKeys) -> None:
    mine = Tokens(keys, "cais", "cais", 300)
    for other in (Tokens(keys, "cais", "elsewhere", 300), Tokens(keys, "someone", "cais", 300)):
        with pytest.raises(TokenInvalid):
            mine.verify(other.issue("alice", PULL).token)
    with pytest.raises(TokenInvalid):
        mine.verify(mine.issue("alice", PULL, now=time.time() - 400).token)  # expired
    with pytest.raises(TokenInvalid):
        mine.verify(mine.issue("alice", PULL, now=time.time() + 400).token)  # not yet valid


def test_tampered_tokens_fail_even_after_the_genuine_one_was_cached(keys: SigningKeys) -> None:
    tokens = Tokens(keys, "cais", "cais", 300)
    genuine = tokens.issue("alice", PULL).token
    tokens.verify(genuine)
    head, _, signature = genuine.split(".")
    claims = jwt.decode(genuine, options={"verify_signature": False})
    claims["access"][0]["actions"] = ["pull", "push"]
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    with pytest.raises(TokenInvalid):
        tokens.verify(f"{head}.{forged_payload}.{signature}")


def test_algorithm_confusion_is_refused(keys: SigningKeys) -> None:
    tokens = Tokens(keys, "cais", "cais", 300)
    kid, private = keys.signer()
    claims = jwt.decode(tokens.issue("alice", PULL).token, options={"verify_signature": False})
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    none = jwt.encode(claims, "", algorithm="none", headers={"kid": kid})
    hs256 = jwt.api_jws.PyJWS()
    hs256._algorithms["HS256"].prepare_key = lambda key: key  # type: ignore[method-assign]  # the attack PyJWT guards against
    confused = hs256.encode(json.dumps(claims).encode(), public_pem, algorithm="HS256", headers={"kid": kid})
    for forged in (none, confused):
        with pytest.raises(TokenInvalid):
            tokens.verify(forged)


def test_rotation_keeps_old_tokens_until_their_key_is_removed(keys: SigningKeys) -> None:
    tokens = Tokens(keys, "cais", "cais", 300)
    old = tokens.issue("alice", PULL).token
    old_kid = keys.signer()[0]
    new_kid = keys.rotate()
    new = tokens.issue("alice", PULL).token
    assert jwt.get_unverified_header(new)["kid"] == new_kid
    assert tokens.verify(old).subject == tokens.verify(new).subject == "alice"
    with pytest.raises(KeyRotationError):
        keys.remove(new_kid)
    # Another process (the CLI) removes the old key: this process notices without a restart.
    SigningKeys(str(Path(keys.directory).parent)).remove(old_kid)
    with pytest.raises(TokenInvalid):
        tokens.verify(old)
    assert [info.kid for info in keys.listing()] == [new_kid]


def test_a_system_token_grants_its_claim_and_nothing_more() -> None:
    """The registry's own pull credential (the deployer's) has no account behind it: the signed
    claim is all it may do."""
    claim = {("repository", "apps/web"): frozenset({"pull"})}
    access = Access("bearer", "cais-deployer", token=VerifiedToken("cais-deployer", claim, 0.0, "kid", SYSTEM))
    assert access.allows("apps/web", "pull")
    assert not access.allows("apps/web", "push") and not access.allows("apps/other", "pull")
    assert access.caller == ("system", "cais-deployer")
