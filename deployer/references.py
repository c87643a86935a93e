"""Image references of task definitions, as they concern this registry: `host/repository:tag` or
`host/repository@digest` where `host` is one of this registry's addresses (options.registry_hosts);
references to other registries are none of this registry's business."""

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
    host, _, rest = reference.partition("/")
    if host not in hosts or not rest:
        return None
    if "@" in rest:
        repository, _, digest = rest.partition("@")
        return Local(host, repository, digest, None)
    repository, sep, tag = rest.rpartition(":")
    return Local(host, repository, None, tag) if sep else Local(host, rest, None, "latest")
