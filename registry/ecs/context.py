"""What every ECS operation needs: the deployer's store, ARNs, tags and list paging."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from deployer.arns import Arns
from deployer.store import DeployerStore
from storage.threads import Threads

from ..aws import pages

T = TypeVar("T")
PAGE = 100


@dataclass(frozen=True, slots=True)
class Context:
    store: DeployerStore
    threads: Threads

    @property
    def arns(self) -> Arns:
        return self.store.arns


def labels(params: dict[str, Any], member: str = "tags") -> dict[str, str]:
    return {tag["key"]: tag.get("value", "") for tag in params.get(member, [])}


def page(items: Sequence[T], params: dict[str, Any], default: int = PAGE) -> tuple[Sequence[T], str | None]:
    return pages.offset_page(items, params, default)


def with_token(result: dict[str, Any], token: str | None) -> dict[str, Any]:
    return {**result, "nextToken": token} if token else result
