"""Signing webhook requests: the Standard Webhooks scheme (through its reference library), and
optionally GitHub's `X-Hub-Signature-256` for receivers written for GitHub.

    webhook-id: <event id>            the same on every retry of an event: receivers deduplicate on it
    webhook-timestamp: <unix seconds>  of this attempt
    webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body"> [v1,<...> with the other secret]

A subscription has one secret, or two while one is being rotated (`cais webhook update NAME
--rotate-secret`): requests are then signed with both, so that a receiver may switch to the new
secret at any time before the old one expires. Secrets (`whsec_` + base64) are stored sealed
with the secret box (storage/secretbox.py), as AWS keys are, and never logged.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from standardwebhooks import Webhook

from storage.errors import SubscriptionInvalid

if TYPE_CHECKING:
    from storage.secretbox import SecretBox

PREFIX = "whsec_"


@dataclass(frozen=True)
class Secret:
    value: str
    until: float | None = None  # an old secret during a rotation signs until then

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def check_secret(value: str) -> str:
    value = value.strip()
    try:
        key = base64.b64decode(value.removeprefix(PREFIX), validate=True)
    except binascii.Error:
        key = b""
    if not value.startswith(PREFIX) or len(key) < 16:
        raise SubscriptionInvalid("a secret is whsec_ followed by at least 16 bytes in base64 (or leave it out)")
    return value


class Keyring:
    """Seals and opens a subscription's secrets with the secret box, opened at first use: a
    process that signs nothing never loads the cryptography library."""

    def __init__(self, key_dir: str) -> None:
        self.key_dir = key_dir
        self._box: SecretBox | None = None

    def _opened(self) -> SecretBox:
        if self._box is None:
            from storage.secretbox import SecretBox

            self._box = SecretBox(self.key_dir)
        return self._box

    def seal(self, held: list[Secret]) -> bytes:
        return self._opened().seal(json.dumps([[secret.value, secret.until] for secret in held]))

    def unseal(self, sealed: bytes | None) -> list[Secret]:
        if sealed is None:
            return []
        return [Secret(value, until) for value, until in json.loads(self._opened().open(sealed))]


def headers(event_id: str, body: bytes, held: list[Secret], github: bool, now: float | None = None) -> dict[str, str]:
    moment = time.time() if now is None else now
    active = [secret for secret in held if secret.active(moment)]
    found = {"webhook-id": event_id, "webhook-timestamp": str(int(moment))}
    if not active:
        return found
    when = datetime.datetime.fromtimestamp(int(moment), datetime.UTC)
    text = body.decode()
    found["webhook-signature"] = " ".join(Webhook(secret.value).sign(event_id, when, text) for secret in active)
    if github:
        digest = hmac.new(active[0].value.encode(), body, hashlib.sha256).hexdigest()
        found["x-hub-signature-256"] = f"sha256={digest}"
    return found
