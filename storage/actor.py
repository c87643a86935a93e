"""Who is acting: the principal (or the background job) on whose behalf the current code runs,
and the request it serves. Every event records it.

The HTTP layer sets it once per request (the middleware: request id and client address; the
access check: the principal), background jobs and the command line set their own, and the
store functions that write events read it: no parameter travels through the layers between.
It is a context variable, so it follows the request into the worker threads that run store
calls (storage/threads.py runs each in a copy of the caller's context) and into shared SQLite
transactions (the combiner runs each piece of work in the context of the thread that handed it
in)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    # user | robot | anonymous (a request's principal); token: a bearer token whose kind is not
    # known; lifecycle; cli (a management command, named for the OS user); system (no one: the
    # registry's own bookkeeping)
    kind: str
    name: str = ""
    request_id: str | None = None
    address: str | None = None  # the client's address, where there was a request


SYSTEM = Actor("system")
_current: ContextVar[Actor] = ContextVar("actor", default=SYSTEM)


def current() -> Actor:
    return _current.get()


def become(actor: Actor) -> None:
    """Act as `actor` for the rest of the current context (a request, a job run)."""
    _current.set(actor)


def identified(kind: str, name: str) -> None:
    """The caller of the current request turned out to be this principal."""
    _current.set(dataclasses.replace(_current.get(), kind=kind, name=name))


@contextmanager
def acting(actor: Actor) -> Iterator[None]:
    token = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(token)
