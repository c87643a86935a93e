"""DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents.

Groups and streams are named as ECS names them (the `awslogs-group` option; streams
`<awslogs-stream-prefix>/<container>/<task id>`). Reading needs `deploy` on the task's service
(or its cluster); streams the caller may not read are left out, as if they did not exist.
Events are paged with opaque tokens; `filterPattern` keeps events containing every term.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
from typing import Any

from deployer.logs import Line, LogFiles, log_files, merged
from deployer.store import DeployerStore
from storage.drivers.base import StorageUnavailable
from storage.metadata.ecs_tasks import StreamRow

from ..auth.policy import deploy_resource, deploys_somewhere
from ..aws import pages
from ..aws.call import Call, Handler
from ..aws.errors import AwsError, Common, Row
from ..aws.protocol import Api
from ..aws.signing import Principal, denied
from ..services import Services

NAME = "logs"
TARGET_PREFIX = "Logs_20140328"
DEFAULT_LIMIT = 10_000
log = logging.getLogger("cais.logs")


class Fault(Common):
    RESOURCE_NOT_FOUND = Row("ResourceNotFoundException", 400, "The specified log group does not exist.")
    UNAVAILABLE = Row("ServiceUnavailableException", 500, "The service cannot complete the request.")


def _translate(exc: Exception) -> AwsError:
    if isinstance(exc, AwsError):
        return exc
    if not isinstance(exc, StorageUnavailable):
        log.exception("unhandled error in the CloudWatch Logs API", exc_info=exc)
    return AwsError(Fault.UNAVAILABLE)


def _authorize(principal: Principal, operation: str, params: dict[str, Any]) -> None:
    if principal.identity is not None and not deploys_somewhere(principal.identity, principal.rules):
        raise denied(principal, f"logs:{operation}", None)


def _readable(principal: Principal, stream: StreamRow) -> bool:
    return principal.may(deploy_resource(stream.cluster, stream.service), "deploy") or principal.may(
        deploy_resource(stream.cluster), "deploy"
    )


def _events(files: LogFiles, streams: list[StreamRow], params: dict[str, Any]) -> list[tuple[str, Line]]:
    start, end = params.get("startTime", 0), params.get("endTime")
    terms = shlex.split(params.get("filterPattern", "")) if params.get("filterPattern") else []
    found = merged([(s.stream, files.read(s.task_id, s.container)) for s in streams])
    return [
        (name, line)
        for name, line in found
        if line.timestamp >= start and (end is None or line.timestamp < end) and all(t in line.message for t in terms)
    ]


def _event_id(stream: str, line: Line, ordinal: int) -> str:
    digest = hashlib.sha256(f"{stream}\n{line.timestamp}\n{ordinal}\n{line.message}".encode()).hexdigest()
    return str(int(digest[:15], 16)).zfill(20)


def api(services: Services) -> Api:
    store: DeployerStore = services.deployer
    run = services.threads.run
    options = store.options
    files = log_files(options.data_dir, options.log_bytes)
    arn = f"arn:aws:logs:{options.arns.region}:{options.arns.account}:log-group:"

    async def streams(call: Call, group: str, prefix: str = "") -> list[StreamRow]:
        found = [s for s in await run(store.log_streams, group, prefix) if _readable(call.principal, s)]
        if not found and not prefix:
            raise AwsError(Fault.RESOURCE_NOT_FOUND)
        return found

    def group_of(params: dict[str, Any]) -> str:
        group = params.get("logGroupName") or params.get("logGroupIdentifier", "").rpartition(":log-group:")[2]
        if not group:
            raise AwsError(Fault.INVALID_PARAMETER, "logGroupName or logGroupIdentifier is required")
        return str(group).removesuffix(":*")

    async def describe_log_groups(call: Call) -> dict[str, Any]:
        prefix = call.params.get("logGroupNamePrefix", "")
        created: dict[str, float] = {}
        for stream in await run(store.log_streams):
            if stream.group.startswith(prefix) and _readable(call.principal, stream):
                created[stream.group] = min(created.get(stream.group, stream.created_at), stream.created_at)
        groups = [
            {
                "logGroupName": name,
                "creationTime": int(at * 1000),
                "arn": f"{arn}{name}:*",
                "logGroupArn": arn + name,
                "storedBytes": 0,
                "metricFilterCount": 0,
                "logGroupClass": "STANDARD",
            }
            for name, at in sorted(created.items())
        ]
        return _paged(call.params, groups, "logGroups", 50)

    async def describe_log_streams(call: Call) -> dict[str, Any]:
        group = group_of(call.params)
        found = await streams(call, group, call.params.get("logStreamNamePrefix", ""))
        shaped = []
        for stream in found:
            lines = list(files.read(stream.task_id, stream.container))
            entry: dict[str, Any] = {
                "logStreamName": stream.stream,
                "creationTime": int(stream.created_at * 1000),
                "arn": f"{arn}{group}:log-stream:{stream.stream}",
                "storedBytes": 0,
            }
            if lines:
                entry |= {
                    "firstEventTimestamp": lines[0].timestamp,
                    "lastEventTimestamp": lines[-1].timestamp,
                    "lastIngestionTime": lines[-1].timestamp,
                }
            shaped.append(entry)
        if call.params.get("orderBy") == "LastEventTime":
            shaped.sort(key=lambda e: e.get("lastEventTimestamp", 0))
        if call.params.get("descending"):
            shaped.reverse()
        return _paged(call.params, shaped, "logStreams", 50)

    async def get_log_events(call: Call) -> dict[str, Any]:
        group, name = group_of(call.params), call.params["logStreamName"]
        found = [s for s in await streams(call, group) if s.stream == name]
        if not found:
            raise AwsError(Fault.RESOURCE_NOT_FOUND, "The specified log stream does not exist.")
        events = await run(_events, files, found, call.params)
        limit = call.params.get("limit", DEFAULT_LIMIT)
        token = call.params.get("nextToken", "")
        direction, _, at = token.partition("/")
        if token and (direction not in ("f", "b") or not at.isdigit()):
            raise AwsError(Fault.INVALID_PARAMETER, "The specified nextToken is invalid.")
        if direction == "f":
            first = int(at)
        elif direction == "b":
            first = max(0, int(at) - limit)
        else:
            first = 0 if call.params.get("startFromHead") else max(0, len(events) - limit)
        chunk = events[first : first + limit] if direction != "b" else events[first : int(at)]
        last = first + len(chunk)
        return {
            "events": [
                {"timestamp": line.timestamp, "message": line.message, "ingestionTime": line.timestamp}
                for _, line in chunk
            ],
            "nextForwardToken": f"f/{last}",
            "nextBackwardToken": f"b/{first}",
        }

    async def filter_log_events(call: Call) -> dict[str, Any]:
        group = group_of(call.params)
        found = await streams(call, group, call.params.get("logStreamNamePrefix", ""))
        names = call.params.get("logStreamNames")
        if names:
            found = [s for s in found if s.stream in names]
        events = await run(_events, files, found, call.params)
        ordinals: dict[tuple[str, int], int] = {}
        shaped = []
        for name, line in events:
            ordinal = ordinals[name, line.timestamp] = ordinals.get((name, line.timestamp), -1) + 1
            shaped.append(
                {
                    "logStreamName": name,
                    "timestamp": line.timestamp,
                    "message": line.message,
                    "ingestionTime": line.timestamp,
                    "eventId": _event_id(name, line, ordinal),
                }
            )
        result = _paged(call.params, shaped, "events", DEFAULT_LIMIT)
        result["searchedLogStreams"] = [{"logStreamName": s.stream, "searchedCompletely": True} for s in found]
        return result

    handlers: dict[str, Handler] = {
        "DescribeLogGroups": describe_log_groups,
        "DescribeLogStreams": describe_log_streams,
        "GetLogEvents": get_log_events,
        "FilterLogEvents": filter_log_events,
    }
    return Api(NAME, TARGET_PREFIX, handlers, _authorize, _translate)


def _paged(params: dict[str, Any], items: list[dict[str, Any]], member: str, default: int) -> dict[str, Any]:
    chunk, next_token = pages.offset_page(items, params, default, "limit")
    return {member: list(chunk), **({"nextToken": next_token} if next_token else {})}
