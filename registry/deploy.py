"""The deployer's scheduler as this registry runs it: the local docker engine, pulling this
registry's images with a credential the registry mints for itself."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from deployer.docker_engine import DockerEngine
from deployer.engine import Engine
from deployer.scheduler import Scheduler, owner_id

from .services import Services

if TYPE_CHECKING:
    from .auth.authority import Authority

PULL_TOKEN_SECONDS = 600
DEPLOYER_SUBJECT = "cais-deployer"


def pull_credentials(authority: Authority | None, repository: str) -> dict[str, str] | None:
    """X-Registry-Auth for dockerd: a bearer token this registry signs, good for pulling one
    repository for a few minutes (dockerd sends it as is, without the token flow)."""
    if authority is None:
        return None
    from .auth.outcomes import SYSTEM
    from .auth.scopes import REPOSITORY, Scope

    scope = Scope(REPOSITORY, repository, frozenset({"pull"}))
    return {
        "registrytoken": authority.tokens.issue(DEPLOYER_SUBJECT, [scope], ttl=PULL_TOKEN_SECONDS, kind=SYSTEM).token
    }


def scheduler(services: Services) -> Scheduler:
    options = services.deployer.options

    def engine() -> Engine:
        return DockerEngine(options.docker_host, owner_id(options.data_dir))

    credentials = partial(pull_credentials, services.authority)
    return Scheduler(services.db, services.threads, options, credentials, engine)
