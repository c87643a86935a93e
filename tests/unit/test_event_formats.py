"""Event kinds, the four formats, signatures and the fan-out's filters, as pure functions. The
formats are checked with the parsers their receivers use (the CloudEvents SDK, standardwebhooks)
and against the field lists of Distribution's and ECR's documentation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from standardwebhooks import Webhook

from deployer import events as deployments
from hooks import destinations, signing
from hooks.backoff import Backoff
from hooks.deploy import events as deploy_events
from hooks.fanout import matches, wants_kind
from hooks.formats import Origin, formats
from storage import event_kinds
from storage.actor import Actor
from storage.errors import SubscriptionInvalid
from storage.metadata.events import EventRow
from storage.metadata.subscriptions import SubscriptionRow

ORIGIN = Origin("https://registry.example.com", "instance-1", "eu-west-1", "123456789012")
DIGEST = "sha256:" + "ab" * 32
PUSHED = event_kinds.ImagePushed(DIGEST, "application/vnd.oci.image.manifest.v1+json", 512, ["v1", "latest"])


def event(kind: event_kinds.Kind[Any], payload: object, repository: str | None = "team/app") -> EventRow:
    who = Actor("robot", "ci", "req-1", "10.0.0.7")
    return EventRow(
        7,
        "0b0c3f6e-0000-4000-8000-000000000001",
        kind.name,
        kind.version,
        repository,
        kind.dump(payload),
        1767323045.678,
        who,
    )


def subscription(**fields: Any) -> SubscriptionRow:
    base: dict[str, Any] = dict(
        id=1,
        name="s",
        kind="webhook",
        url="http://x",
        format="cais",
        options={},
        repositories=[],
        tags=[],
        events=[],
        secrets=None,
        enabled=True,
        disabled_reason=None,
        since_event=0,
        created_at=0.0,
        updated_at=0.0,
    )
    return SubscriptionRow(**(base | fields))


def test_kinds_dump_camel_case_and_load_typed() -> None:
    data = event_kinds.IMAGE_PUSHED.dump(PUSHED)
    assert data["mediaType"] == PUSHED.media_type and data["artifactType"] is None
    assert event_kinds.IMAGE_PUSHED.load(data) == PUSHED
    assert event(event_kinds.IMAGE_PUSHED, PUSHED).payload(event_kinds.IMAGE_PUSHED) == PUSHED
    with pytest.raises(TypeError):
        event_kinds.IMAGE_PUSHED.dump(event_kinds.TagDeleted("v1", DIGEST))  # type: ignore[arg-type]


def test_a_kind_is_defined_once() -> None:
    @dataclass(frozen=True)
    class Other:
        digest: str

    with pytest.raises(ValueError, match="defined twice"):
        event_kinds.Kind("image.pushed", Other, "again")
    with pytest.raises(ValueError, match="dotted"):
        event_kinds.Kind("Pushed", Other, "bad name")


def test_the_cais_document() -> None:
    rendered = formats()["cais"].render(event(event_kinds.IMAGE_PUSHED, PUSHED), ORIGIN, {})
    body = json.loads(rendered.body)
    assert body["type"] == "image.pushed" and body["version"] == 1 and body["time"] == "2026-01-02T03:04:05.678Z"
    assert body["actor"] == {"kind": "robot", "name": "ci"}
    assert body["request"] == {"id": "req-1", "address": "10.0.0.7"}
    assert body["data"]["tags"] == ["v1", "latest"]


@pytest.mark.parametrize("binary", [False, True])
def test_cloudevents_parse_with_the_sdk(binary: bool) -> None:
    rendered = formats()["cloudevents"].render(event(event_kinds.IMAGE_PUSHED, PUSHED), ORIGIN, {"binary": binary})
    parsed = from_http_event(HTTPMessage(rendered.headers, rendered.body))
    assert parsed.get_id() == "0b0c3f6e-0000-4000-8000-000000000001"
    assert parsed.get_type() == "io.cais.image.pushed.v1"
    assert parsed.get_source() == ORIGIN.url and parsed.get_subject() == "team/app"
    data = parsed.get_data()
    assert isinstance(data, dict) and data["data"]["digest"] == DIGEST
    expected = "application/json" if binary else "application/cloudevents+json"
    assert rendered.headers["content-type"].startswith(expected)


# Distribution's notification documentation (docs/content/about/notifications.md): the fields of
# an event, of its target, request, actor and source records.
EVENT_FIELDS = {"id", "timestamp", "action", "target", "request", "actor", "source"}
TARGET_FIELDS = {"mediaType", "digest", "size", "length", "repository", "url", "tag"}
REQUEST_FIELDS = {"id", "addr", "host", "method", "useragent"}


def test_the_distribution_envelope_matches_its_documentation() -> None:
    rendered = formats()["distribution"].render(event(event_kinds.IMAGE_PUSHED, PUSHED), ORIGIN, {})
    assert rendered.headers["content-type"] == "application/vnd.docker.distribution.events.v2+json"
    pushes = json.loads(rendered.body)["events"]
    assert [push["target"]["tag"] for push in pushes] == ["v1", "latest"]  # one event per tag, as Distribution
    for push in pushes:
        assert set(push) == EVENT_FIELDS and set(push["target"]) == TARGET_FIELDS
        assert set(push["request"]) == REQUEST_FIELDS and push["request"]["method"] == "PUT"
        assert push["actor"] == {"name": "ci"} and push["source"] == {"addr": ORIGIN.host, "instanceID": "instance-1"}
        assert push["target"]["url"] == f"{ORIGIN.url}/v2/team/app/manifests/{DIGEST}"
        assert push["target"]["size"] == push["target"]["length"] == 512
    deleted = formats()["distribution"].render(
        event(event_kinds.IMAGE_DELETED, event_kinds.ImageDeleted(DIGEST, [])), ORIGIN, {"version": 1}
    )
    assert deleted.headers["content-type"] == "application/vnd.docker.distribution.events.v1+json"
    (delete,) = json.loads(deleted.body)["events"]
    assert delete["action"] == "delete" and delete["target"] == {"digest": DIGEST, "repository": "team/app"}
    assert not formats()["distribution"].renders("repository.updated")


def test_the_eventbridge_shape_is_ecrs() -> None:
    rendered = formats()["eventbridge"].render(event(event_kinds.IMAGE_PUSHED, PUSHED), ORIGIN, {})
    body = json.loads(rendered.body)
    assert set(body) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert (body["detail-type"], body["source"], body["account"], body["region"]) == (
        "ECR Image Action",
        "aws.ecr",
        "123456789012",
        "eu-west-1",
    )
    assert body["time"] == "2026-01-02T03:04:05Z"
    assert body["detail"] == {
        "result": "SUCCESS",
        "repository-name": "team/app",
        "image-digest": DIGEST,
        "action-type": "PUSH",
        "image-tag": "v1",
        "manifest-media-type": PUSHED.media_type,
    }
    untagged = formats()["eventbridge"].render(
        event(event_kinds.TAG_DELETED, event_kinds.TagDeleted("old", DIGEST)), ORIGIN, {}
    )
    assert json.loads(untagged.body)["detail"]["action-type"] == "DELETE"


def test_deployments_on_eventbridge_are_ecs_deployment_state_changes() -> None:
    arn = "arn:aws:ecs:eu-west-1:123456789012:service/prod/api"
    changed = deployments.DeploymentChanged(
        "prod", "api", arn, "ecs-svc/1234567890123456789", "api:7", {"app": f"127.0.0.1:5000/team/app@{DIGEST}"},
        "FAILED", "ECS deployment circuit breaker: tasks failed to start.", 2, 0, 3, DIGEST,
    )  # fmt: skip
    eventbridge = formats()["eventbridge"]
    rendered = json.loads(eventbridge.render(event(deployments.FAILED, changed), ORIGIN, {}).body)
    assert (rendered["detail-type"], rendered["source"], rendered["resources"]) == (
        "ECS Deployment State Change",
        "aws.ecs",
        [arn],
    )
    assert rendered["detail"] == {
        "eventType": "ERROR",
        "eventName": "SERVICE_DEPLOYMENT_FAILED",
        "deploymentId": "ecs-svc/1234567890123456789",
        "updatedAt": "2026-01-02T03:04:05.678Z",
        "reason": "ECS deployment circuit breaker: tasks failed to start.",
    }
    names = {
        kind.name: json.loads(eventbridge.render(event(kind, changed), ORIGIN, {}).body)["detail"]["eventName"]
        for kind in deployments.KINDS
    }
    assert names == {
        "deployment.started": "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "deployment.rolled_back": "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "deployment.completed": "SERVICE_DEPLOYMENT_COMPLETED",
        "deployment.failed": "SERVICE_DEPLOYMENT_FAILED",
    }
    assert not formats()["distribution"].renders("deployment.started")
    assert eventbridge.renders(deploy_events.BLOCKED.name)


def test_signatures_verify_with_standardwebhooks_during_a_rotation() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    body = b'{"hello":"world"}'
    headers = signing.headers("evt-1", body, [signing.Secret(new), signing.Secret(old, until=2e9)], github=True)
    assert headers["webhook-id"] == "evt-1" and len(headers["webhook-signature"].split()) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"hello": "world"}
    assert headers["x-hub-signature-256"].startswith("sha256=")
    expired = signing.headers("evt-1", body, [signing.Secret(new), signing.Secret(old, until=1.0)], github=False)
    assert len(expired["webhook-signature"].split()) == 1
    with pytest.raises(SubscriptionInvalid):
        signing.check_secret("not-a-secret")


def test_filters_by_kind_repository_and_tag() -> None:
    pushed = event(event_kinds.IMAGE_PUSHED, PUSHED)
    assert wants_kind([], "image.pushed") and not wants_kind([], "image.pulled")
    assert wants_kind(["image.pulled"], "image.pulled") and not wants_kind(["image.*"], "image.pulled")
    assert matches(subscription(repositories=["team/*"], tags=["v*"]), pushed, lambda kind: True)
    assert not matches(subscription(repositories=["other/*"]), pushed, lambda kind: True)
    assert not matches(subscription(tags=["prod-*"]), pushed, lambda kind: True)
    assert not matches(subscription(events=["tag.*"]), pushed, lambda kind: True)
    assert not matches(subscription(since_event=7), pushed, lambda kind: True)
    assert not matches(subscription(), pushed, lambda kind: False)


def test_destinations() -> None:
    for bad in ("ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/"):
        with pytest.raises(SubscriptionInvalid):
            destinations.check_url(bad)
    for address in ("169.254.169.254", "fe80::1", "fd00:ec2::254", "::ffff:169.254.169.254"):
        assert destinations.forbidden(address)
    assert not destinations.forbidden("10.0.0.1") and not destinations.forbidden("127.0.0.1")
    with pytest.raises(destinations.Refused):
        destinations.check_host("http://169.254.169.254/latest", allow_link_local=False)
    destinations.check_host("http://169.254.169.254/latest", allow_link_local=True)


def test_the_default_backoff_spans_about_a_day() -> None:
    backoff = Backoff()
    assert 20 * 3600 < backoff.span() < 32 * 3600
    assert all(backoff.nominal(n) / 2 <= backoff.delay(n) <= backoff.nominal(n) for n in range(1, 20))
    assert backoff.delay(1, retry_after=120) >= 120
