"""Webhooks against a real registry and real receivers: signatures, order, retries, timeouts,
filters, dead letters, 410, a receiver that comes back, the formats on the wire, the API."""

from __future__ import annotations

import itertools
import json
import sqlite3
import time

import httpx
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from standardwebhooks import Webhook

from conformance.client import Registry, make_image, unique_repo
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess, wait_for

from .conftest import FAST, add_webhook, add_webhook_cli, cais, deliveries, documents, show


def test_events_arrive_signed_in_order_saying_who(hooked: ServerProcess, receiver: Receiver) -> None:
    repo = unique_repo("hooks")
    secret = add_webhook_cli(hooked.data_dir, "ordered", receiver.url, "--repo", repo)
    reg = Registry(hooked.url)
    first, second = make_image(), make_image()
    assert reg.push_image(repo, first, "v1").status_code == 201
    assert reg.push_image(repo, second, "v1").status_code == 201  # the tag moves
    assert reg.request("DELETE", f"/v2/{repo}/manifests/v1").status_code == 202
    got = receiver.wait(5)
    for item in got:
        Webhook(secret).verify(item.body, item.headers)  # the library, not our code
    docs = documents(got)
    assert [doc["type"] for doc in docs] == [
        "repository.created",  # made by the push
        "image.pushed",
        "image.pushed",
        "tag.moved",
        "tag.deleted",
    ]
    assert [got[i].headers["webhook-id"] for i in range(5)] == [doc["id"] for doc in docs]
    assert docs[3]["data"] == {"tag": "v1", "digest": second.digest, "previous": first.digest, "reason": None}
    assert docs[1]["actor"] == {"kind": "anonymous", "name": ""}
    assert docs[1]["request"]["address"] == "127.0.0.1" and len(docs[1]["request"]["id"]) >= 16
    assert len({doc["request"]["id"] for doc in docs}) == 4  # one request per push, the push made the repository


def test_a_failing_receiver_gets_the_same_event_again_after_a_backoff(
    hooked: ServerProcess, receiver: Receiver
) -> None:
    repo = unique_repo("hooks")
    receiver.statuses = [500, 503]
    add_webhook(hooked, "retried", receiver.url, repositories=[repo], events=["image.pushed"])
    Registry(hooked.url).push_image(repo, make_image(), "v1")
    got = receiver.wait(3)
    assert len({item.headers["webhook-id"] for item in got}) == 1
    base = float(FAST["CAIS_EVENTS__RETRY_BASE"])
    for attempt, (before, after) in enumerate(itertools.pairwise(got), start=1):
        nominal = base * 2 ** (attempt - 1)
        assert nominal / 2 <= after.at - before.at <= nominal + 3, "inside the backoff window (with jitter)"
    listed = json.loads(cais(hooked.data_dir, "webhook", "deliveries", "retried", "--json").stdout)
    wait_for(
        lambda: (
            json.loads(cais(hooked.data_dir, "webhook", "deliveries", "retried", "--json").stdout)[0]["state"]
            == "delivered"
        )
    )
    assert listed[0]["eventId"] == got[0].headers["webhook-id"]


def test_a_receiver_that_hangs_is_cut_off(hooked: ServerProcess, receiver: Receiver) -> None:
    repo = unique_repo("hooks")
    receiver.hang = 30
    add_webhook(hooked, "hanging", receiver.url, repositories=[repo], timeout=1)
    Registry(hooked.url).push_image(repo, make_image(), "v1")

    def failed() -> bool:
        found = deliveries(hooked, "hanging", failed=True)
        return bool(found) and "no answer within 1s" in (found[-1]["lastError"] or "")

    wait_for(failed, 20)
    receiver.hang = 0
    wait_for(lambda: len(receiver.received) >= 3)  # the retry went through behind it


def test_filters_by_repository_tag_and_kind(hooked: ServerProcess) -> None:
    team, other = unique_repo("team"), unique_repo("other")
    receivers = {name: Receiver().start() for name in ("repo", "tag", "kind")}
    try:
        add_webhook(hooked, "by-repo", receivers["repo"].url, repositories=["team/*"], events=["image.pushed"])
        add_webhook(hooked, "by-tag", receivers["tag"].url, tags=["release-*"], repositories=[team, other])
        add_webhook(hooked, "by-kind", receivers["kind"].url, events=["tag.*"], repositories=[team])
        reg = Registry(hooked.url)
        reg.push_image(team, make_image(), "dev")
        reg.push_image(other, make_image(), "release-1")
        reg.push_image(team, make_image(), "dev")  # moves dev
        reg.request("DELETE", f"/v2/{team}/manifests/dev")
        # A push after the others, seen by each webhook: once it arrives, everything before it has.
        reg.push_image(team, make_image(), "release-2")
        wait_for(lambda: any(b'"release-2"' in r.body for r in receivers["repo"].received))
        wait_for(lambda: any(b'"release-2"' in r.body for r in receivers["tag"].received))
        wait_for(lambda: len(receivers["kind"].received) >= 2)
        by_repo = {doc["repository"] for doc in documents(receivers["repo"].received)}
        assert by_repo == {team}
        tagged = [(doc["type"], doc["data"].get("tags")) for doc in documents(receivers["tag"].received)]
        assert tagged == [("image.pushed", ["release-1"]), ("image.pushed", ["release-2"])]
        assert [doc["type"] for doc in documents(receivers["kind"].received)] == ["tag.moved", "tag.deleted"]
    finally:
        for found in receivers.values():
            found.stop()


def test_dead_letters_are_redelivered_by_the_cli(hooked: ServerProcess, receiver: Receiver) -> None:
    repo = unique_repo("hooks")
    receiver.statuses = [500, 500, 500]  # [events] max_attempts is 3 here
    add_webhook_cli(hooked.data_dir, "dead", receiver.url, "--repo", repo, "--events", "image.pushed")
    Registry(hooked.url).push_image(repo, make_image(), "v1")

    def dead() -> list[dict[str, object]]:
        return [item for item in deliveries(hooked, "dead", failed=True) if item["state"] == "dead"]

    wait_for(lambda: bool(dead()), 30)
    (item,) = dead()
    assert item["attempts"] == 3 and item["lastStatus"] == 500
    assert "1 event(s)" in cais(hooked.data_dir, "webhook", "redeliver", "dead", str(item["eventId"])).stdout
    got = receiver.wait(4)
    assert got[-1].headers["webhook-id"] == item["eventId"]
    wait_for(lambda: not dead())


def test_410_gone_disables_the_webhook(hooked: ServerProcess, receiver: Receiver) -> None:
    repo = unique_repo("hooks")
    receiver.statuses = [410]
    add_webhook(hooked, "gone", receiver.url, repositories=[repo])
    Registry(hooked.url).push_image(repo, make_image(), "v1")
    wait_for(lambda: not show(hooked, "gone")["enabled"])
    assert "410" in show(hooked, "gone")["disabledReason"]
    Registry(hooked.url).push_image(repo, make_image(), "v2")  # not queued for a disabled webhook
    cais(hooked.data_dir, "webhook", "enable", "gone")
    got = receiver.wait(2)  # the event it answered 410 to, again
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    assert documents(got)[1]["type"] == "repository.created"


def test_a_receiver_down_for_a_while_gets_everything_in_order(hooked: ServerProcess, receiver: Receiver) -> None:
    repo = unique_repo("hooks")
    add_webhook(hooked, "comeback", receiver.url, repositories=[repo], events=["image.pushed"])
    receiver.stop()
    reg = Registry(hooked.url)
    pushed = [make_image() for _ in range(5)]
    for index, image in enumerate(pushed):
        reg.push_image(repo, image, f"v{index}")

    wait_for(lambda: any(item["attempts"] >= 1 for item in deliveries(hooked, "comeback", failed=True)))
    receiver.start()
    got = receiver.wait(5)
    time.sleep(1)  # nothing more comes: each event once
    assert [doc["data"]["digest"] for doc in documents(receiver.received)] == [image.digest for image in pushed]
    assert len(got) == 5


def test_formats_on_the_wire(hooked: ServerProcess) -> None:
    repo = unique_repo("fmt")
    receivers = {name: Receiver().start() for name in ("distribution", "cloudevents", "eventbridge")}
    try:
        for name, found in receivers.items():
            add_webhook(hooked, f"fmt-{name}", found.url, format=name, repositories=[repo])
        image = make_image()
        Registry(hooked.url).push_image(repo, image, "v1")
        (distribution,) = receivers["distribution"].wait(1)  # repository.created has no Distribution counterpart
        assert distribution.headers["content-type"] == "application/vnd.docker.distribution.events.v2+json"
        (pushed,) = json.loads(distribution.body)["events"]
        assert (pushed["action"], pushed["target"]["digest"], pushed["target"]["tag"]) == ("push", image.digest, "v1")
        assert pushed["target"]["url"].endswith(f"/v2/{repo}/manifests/{image.digest}")
        _, cloud = receivers["cloudevents"].wait(2)
        parsed = from_http_event(HTTPMessage(cloud.headers, cloud.body))
        assert parsed.get_type() == "io.cais.image.pushed.v1" and parsed.get_subject() == repo
        (bridge,) = receivers["eventbridge"].wait(1)
        detail = json.loads(bridge.body)["detail"]
        assert detail["action-type"] == "PUSH" and detail["image-digest"] == image.digest
    finally:
        for found in receivers.values():
            found.stop()


def test_ping_api_and_metrics(hooked: ServerProcess, receiver: Receiver) -> None:
    secret = add_webhook(hooked, "pinged", receiver.url, repositories=["nothing/*"])
    assert "delivered: HTTP 200" in cais(hooked.data_dir, "webhook", "test", "pinged").stdout
    (ping,) = receiver.wait(1)
    assert Webhook(secret).verify(ping.body, ping.headers)["type"] == "webhook.ping"
    api = f"{hooked.url}/api/v1/webhooks"
    created = httpx.post(api, json={"name": "via-api", "url": receiver.url, "events": ["image.pushed"]})
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    assert httpx.post(api, json={"name": "via-api", "url": receiver.url}).status_code == 409
    assert httpx.post(api, json={"name": "bad", "url": "ftp://x"}).json()["errors"][0]["code"] == "INVALID"
    names = {item["name"] for item in httpx.get(api).json()["webhooks"]}
    assert {"pinged", "via-api"} <= names
    assert httpx.post(f"{api}/via-api/disable").json()["enabled"] is False
    assert httpx.get(f"{api}/pinged/deliveries").json()["deliveries"][0]["type"] == "webhook.ping"
    assert httpx.delete(f"{api}/via-api").status_code == 204
    assert httpx.get(f"{api}/via-api").status_code == 404
    metrics = httpx.get(f"{hooked.url}/metrics").text
    assert 'cais_event_deliveries_pending{subscription="pinged"} 0.0' in metrics
    assert 'cais_event_oldest_pending_age_seconds{subscription="pinged"}' in metrics
    assert "cais_events_outbox " in metrics
    with sqlite3.connect(hooked.data_dir / "metadata.db") as db:
        (kind, name) = db.execute("SELECT actor_kind, actor_name FROM events WHERE type = 'webhook.ping'").fetchone()
    assert kind == "cli" and name  # the operator who ran `cais webhook test`


def test_a_rotated_secret_signs_beside_the_old_one(hooked: ServerProcess, receiver: Receiver) -> None:
    old = add_webhook(hooked, "rotated", receiver.url, repositories=["nothing/*"])
    rotated = cais(hooked.data_dir, "webhook", "update", "rotated", "--rotate-secret", "--keep-old", "1h", "--json")
    new = json.loads(rotated.stdout)["secret"]
    api = f"{hooked.url}/api/v1/webhooks/rotated"
    assert httpx.post(f"{api}/test").json()["delivered"] is True
    assert httpx.post(f"{api}/redeliver", json={"since": 0}).json() == {"queued": 1}
    got = receiver.wait(2)
    for item in got:
        for secret in (old, new):
            Webhook(secret).verify(item.body, item.headers)
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    assert [secret["expiresAt"] is None for secret in show(hooked, "rotated")["secrets"]] == [True, False]
