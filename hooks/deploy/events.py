"""The deploy hook's own event (a push a rule did not deploy, and why) and how deployments look
on EventBridge: the deployer's deployment.* kinds (deployer/events.py) as ECS's "ECS Deployment
State Change" events, so that handlers written for ECS port over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer import events as deployments
from storage.event_kinds import Kind
from storage.metadata.events import EventRow

from ..formats import eventbridge, timestamp


@dataclass(frozen=True)
class DeployBlocked:
    rule: str
    run: int  # `cais deploy history` lists it
    cluster: str
    service: str
    tag: str
    digest: str
    stage: str  # scan (the gate), approval (rejected) or deploy (the service could not take it)
    reason: str
    findings: list[dict[str, Any]] | None = None  # the findings above the gate


BLOCKED = Kind("deploy.blocked", DeployBlocked, "a deploy rule did not deploy a push (scan gate, rejection, error)")

# ECS's eventName for each kind: a rollback is the new deployment of what ran before, in progress.
_NAMES = {
    deployments.STARTED.name: "SERVICE_DEPLOYMENT_IN_PROGRESS",
    deployments.ROLLED_BACK.name: "SERVICE_DEPLOYMENT_IN_PROGRESS",
    deployments.COMPLETED.name: "SERVICE_DEPLOYMENT_COMPLETED",
    deployments.FAILED.name: "SERVICE_DEPLOYMENT_FAILED",
}


def _service_arn(event: EventRow) -> list[str]:
    return [str(event.data["serviceArn"])]


def _state_change(event: EventRow) -> tuple[str, dict[str, Any]]:
    name = _NAMES[event.kind]
    detail = {
        "eventType": "ERROR" if name == "SERVICE_DEPLOYMENT_FAILED" else "INFO",
        "eventName": name,
        "deploymentId": event.data["deployment"],
        "updatedAt": timestamp(event.created_at),
        "reason": event.data["reason"],
    }
    return "ECS Deployment State Change", detail


for _kind in _NAMES:
    eventbridge.define(_kind, source="aws.ecs", resources=_service_arn)(_state_change)


@eventbridge.define(BLOCKED.name)
def _blocked(event: EventRow) -> tuple[str, dict[str, Any]]:
    return "Cais Deploy Blocked", {"repository-name": event.repository, **event.data}
