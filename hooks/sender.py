"""One webhook request: render the event in the subscription's format, sign it, POST it with a
deadline, and say what came of it. 2xx is delivered; 410 Gone means the receiver is gone for
good (the subscription is disabled); anything else, or no answer within the subscription's
timeout (the whole exchange, so that a receiver trickling bytes is cut off too), is a failure
to retry. Redirects are not followed: a webhook's URL is where its events go."""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.metadata.events import EventRow
from storage.threads import Threads

from . import destinations, signing
from .formats import Format, Origin

if TYPE_CHECKING:
    import httpx

USER_AGENT = "cais-webhooks/1"
ERROR_TEXT = 300  # characters of a failed response kept for `cais webhook deliveries`


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked us to wait
    gone: bool = False


@dataclass(frozen=True)
class Target:
    """A webhook as the sender needs it."""

    url: str
    format: Format
    options: dict[str, Any]
    secrets: list[signing.Secret]
    timeout: float
    allow_link_local: bool


def retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


async def send(client: httpx.AsyncClient, threads: Threads, target: Target, event: EventRow, origin: Origin) -> Outcome:
    try:
        await threads.run(destinations.check_host, target.url, target.allow_link_local)
    except destinations.Refused as exc:
        return Outcome(False, error=str(exc))
    rendered = target.format.render(event, origin, target.options)
    github = bool(target.options.get("github_signature"))
    signed = signing.headers(event.event_id, rendered.body, target.secrets, github)
    headers = {**rendered.headers, **signed, "user-agent": USER_AGENT}
    try:
        return await asyncio.wait_for(_post(client, target.url, rendered.body, headers), target.timeout)
    except TimeoutError:
        return Outcome(False, error=f"no answer within {target.timeout:g}s")
    except Exception as exc:  # httpx's transport errors, and anything else the exchange raised
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:ERROR_TEXT])


async def _post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    async with client.stream("POST", url, content=body, headers=headers) as response:
        status = response.status_code
        if 200 <= status < 300:
            return Outcome(True, status)
        text = ""
        async for chunk in response.aiter_text():
            text += chunk
            if len(text) >= ERROR_TEXT:
                break
        waited = retry_after(response.headers.get("retry-after"), time.time())
        error = f"HTTP {status}: {text.strip()}"[:ERROR_TEXT]
        return Outcome(False, status, error, waited, gone=status == 410)
