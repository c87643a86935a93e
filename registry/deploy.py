"""The deployer's scheduler as this registry runs it: the local docker engine, pulling this
registry's images with a credential the registry mints for itself, and the external engines
clusters may be bound to (which pull with longer-lived tokens, kept in their service specs)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from deployer import bindings
from deployer.docker_engine import DockerEngine
from deployer.engine import Engine
from deployer.external import ExternalEngine
from deployer.scheduler import Scheduler, owner_id

from .services import Services

if TYPE_CHECKING:
    from .auth.authority import Authority

PULL_TOKEN_SECONDS = 600
# An external engine pulls when it places a task, which may be long after the hand-over: its
# token lasts a day and the engine renews it (deployer/swarm_engine.py).
ENGINE_TOKEN_SECONDS = 86400
DEPLOYER_SUBJECT = "cais-deployer"


def pull_credentials(
    authority: Authority | None, repository: str, ttl: int = PULL_TOKEN_SECONDS
) -> dict[str, str] | None:
    """X-Registry-Auth for dockerd: a bearer token this registry signs, good for pulling one
    repository for a while (dockerd sends it as is, without the token flow)."""
    if authority is None:
        return None
    from .auth.outcomes import SYSTEM
    from .auth.scopes import REPOSITORY, Scope

    scope = Scope(REPOSITORY, repository, frozenset({"pull"}))
    return {"registrytoken": authority.tokens.issue(DEPLOYER_SUBJECT, [scope], ttl=ttl, kind=SYSTEM).token}


def image_credentials(authority: Authority | None, hosts: tuple[str, ...], image: str) -> dict[str, str] | None:
    """pull_credentials for an image reference of this registry (None for another registry's)."""
    host, _, rest = image.partition("/")
    if host not in hosts or not rest:
        return None
    repository = rest.partition("@")[0] if "@" in rest else rest.rpartition(":")[0] or rest
    return pull_credentials(authority, repository, ENGINE_TOKEN_SECONDS)


def scheduler(services: Services) -> Scheduler:
    options = services.deployer.options

    def engine() -> Engine:
        return DockerEngine(options.docker_host, owner_id(options.data_dir))

    def opener(binding: bindings.Binding) -> ExternalEngine:
        context = bindings.Context(
            owner=owner_id(options.data_dir),
            key_dir=services.settings.auth_key_dir,
            registry_hosts=options.registry_hosts,
            credentials=partial(image_credentials, services.authority, options.registry_hosts),
        )
        return bindings.open_engine(binding, context)

    credentials = partial(pull_credentials, services.authority)
    return Scheduler(services.db, services.threads, options, credentials, engine, opener)
