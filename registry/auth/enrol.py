"""New accounts, as the command line and the web console make them: names and passwords checked
the same way, robot secrets (or AWS-style key pairs) made once and handed back to show once."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from storage.accounts import NewAccount
from storage.secretbox import SecretBox

from . import credentials, passwords
from .authority import AWS_USER

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
MIN_PASSWORD = 8


@dataclass(frozen=True, slots=True)
class NewRobot:
    account: NewAccount
    secret: str  # what to show once: the robot's secret, or AWS_ACCESS_KEY_ID=... and AWS_SECRET_ACCESS_KEY=...


def check_name(text: str) -> str:
    """A login or group name; ValueError says what is wrong."""
    if not NAME_RE.match(text):
        raise ValueError(f"invalid name {text!r}: letters, digits and . _ @ - (up to 128)")
    if text == AWS_USER:
        raise ValueError(f"{AWS_USER} is reserved: it logs in with tokens from the ECR API's GetAuthorizationToken")
    return text


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def user(name: str, password: str, description: str | None = None) -> NewAccount:
    """A user account; only the argon2id hash of the password is kept."""
    return NewAccount("user", check_name(name), passwords.hash_secret(check_password(password)), description)


def robot(
    key_dir: str,
    name: str,
    patterns: list[str],
    actions: frozenset[str],
    lifetime: float | None = None,
    aws: bool = False,
    description: str | None = None,
) -> NewRobot:
    """A robot with `actions` on each pattern (checked by the caller: repository, cluster and
    service patterns differ), expiring after `lifetime` seconds (None: never).
    aws=True: an AWS-style key pair (for the ECR-compatible API) instead of a secret; its secret
    key is sealed with the secret-box key of `key_dir`."""
    rules = [(pattern, actions) for pattern in patterns]
    expires_at = time.time() + lifetime if lifetime else None
    if aws:
        key_id, aws_secret = credentials.aws_key_pair()
        access_key = (key_id, SecretBox(key_dir).seal(aws_secret))
        account = NewAccount("robot", check_name(name), None, description, expires_at, rules, access_key)
        return NewRobot(account, f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={aws_secret}")
    secret = credentials.robot_secret()
    account = NewAccount("robot", check_name(name), passwords.hash_secret(secret), description, expires_at, rules)
    return NewRobot(account, secret)
