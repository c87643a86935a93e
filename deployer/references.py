"""Image references of task definitions, as they concern this registry: `host/repository:tag` or
`host/repository@digest` where `host` is one of this registry's addresses (options.registry_hosts);
references to other registries are none of this registry's business, except for retention,
which keeps what any reference may name (deployer/retention.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Local:
    host: str
    repository: str
    digest: str | None  # pinned: host/repository@digest
    tag: str | None  # host/repository:tag (latest when neither is given)

    def pinned(self, digest: str) -> str:
        return f"{self.host}/{self.repository}@{digest}"


def local(reference: str, hosts: tuple[str, ...]) -> Local | None:
    """The reference, if it names an image of this registry."""
    found = parse(reference)
    return found if found is not None and found.host in hosts else None


def parse(reference: str) -> Local | None:
    """The parts of a `host/repository...` reference, whatever the host."""
    host, _, rest = reference.partition("/")
    if not rest:
        return None
    if "@" in rest:
        repository, _, digest = rest.partition("@")
        return Local(host, repository, digest, None)
    repository, sep, tag = rest.rpartition(":")
    return Local(host, repository, None, tag) if sep else Local(host, rest, None, "latest")
