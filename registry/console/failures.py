"""What can go wrong on a console page, and the one table that turns it into an HTML answer.

Handlers raise (or let the stores raise); `failure_of` picks the status and the message shown.
A message is always shown as text (templates escape it); a failure nobody expected is logged
with its traceback and shown as a generic message with the request id, never the traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from starlette.requests import ClientDisconnect

from storage import errors as store
from storage.drivers.base import StorageUnavailable

from ..auth.outcomes import LoginRefused, LoginThrottled
from ..errors import OCIError

log = logging.getLogger("cais.console")


class Refused(Exception):
    """The viewer may not see or do this (403; a visitor who is not logged in is asked to)."""


class NotFound(Exception):
    pass


class BadInput(Exception):
    """Form or query input the console cannot use; the message says what to change."""


class FormExpired(Exception):
    """The form's CSRF token is missing or not this browser's, or the request came from another site."""


@dataclass(frozen=True, slots=True)
class Failure:
    status: int
    title: str
    message: str


_STORE_STATUS: dict[type[store.StoreError], tuple[int, str]] = {
    store.NameUnknown: (404, "Not found"),
    store.ManifestUnknown: (404, "Not found"),
    store.AccountUnknown: (404, "Not found"),
    store.PolicyNotFound: (404, "Not found"),
    store.SettingInvalid: (400, "Not accepted"),
    store.ManifestInvalid: (400, "Not accepted"),
    store.TagImmutable: (409, "Tag is immutable"),
    store.ImageAlreadyExists: (409, "Nothing to change"),
    store.RepositoryNotEmpty: (409, "Repository not empty"),
    store.AccountExists: (409, "Already exists"),
    store.SubscriptionUnknown: (404, "Not found"),
    store.EventUnknown: (404, "Not found"),
    store.SubscriptionExists: (409, "Already exists"),
    store.SubscriptionInvalid: (400, "Not accepted"),
}


def failure_of(exc: Exception, request_id: str) -> Failure:
    if isinstance(exc, Refused):
        return Failure(403, "Not allowed", str(exc))
    if isinstance(exc, NotFound):
        return Failure(404, "Not found", str(exc))
    if isinstance(exc, BadInput):
        return Failure(400, "Not accepted", str(exc))
    if isinstance(exc, FormExpired):
        return Failure(
            403, "Form expired", "This form was not sent from this page of the console: reload it and retry."
        )
    if isinstance(exc, LoginThrottled):
        return Failure(
            429, "Too many attempts", f"Too many failed logins from your address: retry in {exc.retry_after} s."
        )
    if isinstance(exc, LoginRefused):
        return Failure(401, "Login failed", "Unknown name or wrong password.")
    if isinstance(exc, OCIError):  # a reference check of registry/references.py
        return Failure(exc.problem.value.status, "Not accepted", exc.message)
    if isinstance(exc, store.StoreError):
        for cls in type(exc).__mro__:
            if cls in _STORE_STATUS:
                status, title = _STORE_STATUS[cls]
                return Failure(status, title, exc.message)
    if isinstance(exc, ClientDisconnect):  # nobody left to read the answer
        return Failure(400, "Disconnected", "The browser went away before the form arrived.")
    if isinstance(exc, StorageUnavailable):
        log.warning("storage unavailable: %s", exc)
        return Failure(503, "Unavailable", "The registry's storage is unavailable: retry in a moment.")
    log.exception("console: unhandled error", exc_info=exc)
    return Failure(500, "Something went wrong", f"The error was logged with request id {request_id}.")


@contextmanager
def bad_input() -> Iterator[None]:
    """Checks of user input raise ValueError with a message for the user: show it as such."""
    try:
        yield
    except ValueError as exc:
        raise BadInput(str(exc)) from None
