"""A cluster's engine: the local dockerd (the default) or an external engine that runs the
rollouts itself (deployer/external.py). The binding is set when the cluster is created, by
tags on CreateCluster (what stock boto3 and the aws CLI send as they are) or by
`cais deploy cluster NAME --engine ...`, and kept in the cluster's document:

    cais:engine               local | swarm | ecs
    cais:engine:<setting>     one setting of that engine (SETTINGS below)

Tags, because CreateCluster's other members are closed lists in botocore's model (setting
names, capacity provider strategies) while tags take any key and read back with
DescribeClusters(include=["TAGS"]) and ListTagsForResource. That is also why no secret is ever
a tag: static AWS keys go to the CLI (the secret on stdin) and are stored sealed with the secret
box (storage/secretbox.py), as AWS keys and webhook secrets are; otherwise the engine uses the
AWS credential chain of the Cais process, or a named profile of it (a reference, not a secret).
A binding never changes under a cluster's services: to move a cluster, delete and create it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidParameter
from .external import ExternalEngine

TAG = "cais:engine"
PREFIX = TAG + ":"
LOCAL, SWARM, ECS = "local", "swarm", "ecs"
SECRET_KEYS = ("aws_access_key_id", "aws_secret_access_key")

_ARN = r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d*:\S+"

# setting -> (what it must look like, the pattern of its whole value)
SETTINGS: dict[str, dict[str, tuple[str, str]]] = {
    SWARM: {
        "docker-host": ("unix:///PATH or tcp://HOST:PORT", r"unix:///\S+|tcp://\S+:\d+"),
        "tls-dir": ("an absolute directory with ca.pem, cert.pem and key.pem", r"/.*"),
        "monitor": ("seconds (1 to 3600)", r"[1-9]\d{0,3}(\.\d+)?|0?\.\d*[1-9]\d*"),
    },
    ECS: {
        "region": ("an AWS region such as eu-west-1", r"[a-z]{2}(-[a-z]+)+-\d+"),
        "cluster": ("an ECS cluster name", r"[A-Za-z0-9_-]{1,255}"),
        "endpoint-url": ("an http(s) URL", r"https?://[^\s/]+(/\S*)?"),
        "profile": ("a profile name", r"[\w.@+-]{1,64}"),
        "image-host": ("HOST[:PORT]", r"[A-Za-z0-9.-]+(:\d{1,5})?"),
        "repository-credentials": ("a Secrets Manager ARN", _ARN),
        "execution-role": ("an IAM role ARN", _ARN),
    },
}
REQUIRED = {SWARM: ("docker-host",), ECS: ("region",)}


@dataclass(frozen=True, slots=True)
class Binding:
    kind: str = LOCAL
    settings: dict[str, str] = field(default_factory=dict)
    sealed: str | None = None  # the secret settings, sealed (base64 of a Fernet token)

    @property
    def local(self) -> bool:
        return self.kind == LOCAL

    def doc(self) -> dict[str, Any]:
        found: dict[str, Any] = {"kind": self.kind, "settings": dict(self.settings)}
        if self.sealed:
            found["sealed"] = self.sealed
        return found

    def tags(self) -> dict[str, str]:
        """The binding as tags (what CreateCluster took; never the sealed secrets)."""
        if self.local:
            return {}
        return {TAG: self.kind, **{PREFIX + key: value for key, value in self.settings.items()}}

    def setting(self, name: str, default: str | None = None) -> str | None:
        return self.settings.get(name, default)


def of_cluster(doc: dict[str, Any]) -> Binding:
    found = doc.get("engine")
    if not found:
        return Binding()
    return Binding(found["kind"], dict(found.get("settings", {})), found.get("sealed"))


def is_binding_tag(key: str) -> bool:
    return key == TAG or key.startswith(PREFIX)


def from_tags(labels: dict[str, str]) -> Binding:
    """The binding that CreateCluster's tags name (the local engine without `cais:engine`)."""
    kind = labels.get(TAG, LOCAL)
    settings = {key.removeprefix(PREFIX): value for key, value in labels.items() if key.startswith(PREFIX)}
    return check(kind, settings)


def check(kind: str, settings: dict[str, str], secrets: bool = False) -> Binding:
    """A valid binding of `kind`, or InvalidParameter naming every problem."""
    if kind == LOCAL:
        if settings:
            raise InvalidParameter(f"the local engine takes no settings ({', '.join(sorted(settings))})")
        return Binding()
    known = SETTINGS.get(kind)
    if known is None:
        raise InvalidParameter(f"{TAG} must be one of {LOCAL}, {SWARM}, {ECS}, not {kind!r}")
    problems = [f"{PREFIX}{name} is required" for name in REQUIRED[kind] if name not in settings]
    for name, value in sorted(settings.items()):
        if name not in known:
            problems.append(f"{PREFIX}{name} is not a setting of the {kind} engine ({', '.join(sorted(known))})")
        elif re.fullmatch(known[name][1], value) is None:
            problems.append(f"{PREFIX}{name} must be {known[name][0]}, not {value!r}")
    if secrets and kind != ECS:
        problems.append(f"the {kind} engine takes no AWS keys")
    if secrets and "profile" in settings:
        problems.append("give AWS keys or a profile, not both")
    if problems:
        raise InvalidParameter("; ".join(problems))
    return Binding(kind, dict(settings))


def seal(binding: Binding, secrets: dict[str, str], sealer: Callable[[str], bytes]) -> Binding:
    """The binding with `secrets` sealed by `sealer` (the secret box's seal)."""
    token = base64.b64encode(sealer(json.dumps(secrets, sort_keys=True))).decode()
    return Binding(binding.kind, binding.settings, token)


def unseal(binding: Binding, opener: Callable[[bytes], str]) -> dict[str, str]:
    if not binding.sealed:
        return {}
    found: dict[str, str] = json.loads(opener(base64.b64decode(binding.sealed)))
    return found


def runnable(binding: Binding, definition: dict[str, Any]) -> None:
    """Refuse (InvalidParameter) a task definition the cluster's engine cannot run: a swarm
    service is one container."""
    if binding.kind == SWARM and len(definition["containerDefinitions"]) != 1:
        raise InvalidParameter("a cluster bound to Docker Swarm runs task definitions of one container")


@dataclass(frozen=True, slots=True)
class Context:
    """What engines need from this Cais."""

    owner: str  # this Cais's name on what it makes (labels)
    key_dir: str | None  # the secret box that opens sealed settings
    registry_hosts: tuple[str, ...]  # this registry's addresses in image references
    # image reference -> X-Registry-Auth contents for pulling it (None: not an image of this registry)
    credentials: Callable[[str], dict[str, str] | None]


def open_engine(binding: Binding, context: Context) -> ExternalEngine:
    """The engine a cluster is bound to (its client library is loaded here, on first use)."""
    if binding.kind == SWARM:
        from .swarm_engine import SwarmEngine

        return SwarmEngine(binding, context.owner, context.credentials)
    if binding.kind == ECS:
        from storage.secretbox import SecretBox

        from .ecs_engine import AmazonEcsEngine

        opener = SecretBox(context.key_dir).open if context.key_dir else _no_box
        return AmazonEcsEngine(binding, unseal(binding, opener), context.registry_hosts)
    raise ValueError(f"no external engine for {binding.kind}")


def _no_box(sealed: bytes) -> str:
    raise InvalidParameter("sealed settings need the secret box ([auth] key_dir)")
