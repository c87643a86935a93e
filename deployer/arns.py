"""ARNs in ECS's format, and the names they stand for:

    arn:aws:ecs:<region>:<account>:cluster/<cluster>
    arn:aws:ecs:<region>:<account>:service/<cluster>/<service>
    arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>
    arn:aws:ecs:<region>:<account>:task/<cluster>/<task id>
    arn:aws:ecs:<region>:<account>:container-instance/<cluster>/<id>
    arn:aws:ecs:<region>:<account>:container/<cluster>/<task id>/<container uuid>
    arn:aws:ecs:<region>:<account>:service-deployment/<cluster>/<service>/<deployment id>
    arn:aws:ecs:<region>:<account>:service-revision/<cluster>/<service>/<task definition id>

The API accepts a name or an ARN wherever ECS does; any region and account are accepted in
ARNs that come in (clients build them from their own configuration).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ARN = re.compile(r"^arn:aws[a-z-]*:ecs:[^:]*:[^:]*:(?P<kind>[a-z-]+)/(?P<rest>.+)$")


@dataclass(frozen=True, slots=True)
class Arns:
    region: str
    account: str

    def _arn(self, resource: str) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account}:{resource}"

    def cluster(self, name: str) -> str:
        return self._arn(f"cluster/{name}")

    def service(self, cluster: str, name: str) -> str:
        return self._arn(f"service/{cluster}/{name}")

    def task_definition(self, family: str, revision: int) -> str:
        return self._arn(f"task-definition/{family}:{revision}")

    def task(self, cluster: str, task_id: str) -> str:
        return self._arn(f"task/{cluster}/{task_id}")

    def container_instance(self, cluster: str, instance_id: str) -> str:
        return self._arn(f"container-instance/{cluster}/{instance_id}")

    def container(self, cluster: str, task_id: str, container_id: str) -> str:
        return self._arn(f"container/{cluster}/{task_id}/{container_id}")

    def service_deployment(self, cluster: str, service: str, deployment_id: str) -> str:
        return self._arn(f"service-deployment/{cluster}/{service}/{deployment_id.removeprefix('ecs-svc/')}")

    def service_revision(self, cluster: str, service: str, definition_id: int) -> str:
        return self._arn(f"service-revision/{cluster}/{service}/{definition_id}")


def parse(text: str) -> tuple[str, list[str]] | None:
    """(resource kind, path parts) of an ECS ARN; None when `text` is not one."""
    match = _ARN.match(text)
    if match is None:
        return None
    return match["kind"], match["rest"].split("/")


def last_name(text: str, kind: str) -> str:
    """A name given as itself or as the last part of an ARN of `kind`."""
    parsed = parse(text)
    if parsed is not None and parsed[0] == kind:
        return parsed[1][-1]
    return text


def cluster_of(text: str) -> str:
    """The cluster a cluster name or ARN (or a service/task ARN, which includes it) names."""
    parsed = parse(text)
    if parsed is None:
        return text
    return parsed[1][0]


def family_revision(text: str) -> tuple[str, int | None]:
    """`family`, `family:revision` or a task definition ARN."""
    parsed = parse(text)
    if parsed is not None and parsed[0] == "task-definition":
        text = "/".join(parsed[1])
    family, sep, revision = text.rpartition(":")
    if sep and revision.isdigit():
        return family, int(revision)
    return text, None
