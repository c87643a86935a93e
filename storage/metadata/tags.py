"""Tags: a mutable name -> digest map per repository, with an append-only history that says who
moved each tag (storage/actor.py), when, from which digest to which, and why when a reason was
given (a revert)."""

from __future__ import annotations

import time

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from .. import actor
from .schema import repositories, tag_history, tags
from .upsert import insert_ignore

# Built once: building a statement costs more than SQLite running it.
_RESOLVE = (
    select(tags.c.digest)
    .join(repositories, repositories.c.id == tags.c.repository_id)
    .where(repositories.c.name == bindparam("repository"), tags.c.name == bindparam("tag"))
)
_PAGE = (
    select(tags.c.name)
    .where(tags.c.repository_id == bindparam("repository_id"), tags.c.name > bindparam("after"))
    .order_by(tags.c.name)
    .limit(bindparam("limit"))
)


def resolve(conn: Connection, repository: str, tag: str) -> str | None:
    return conn.execute(_RESOLVE, {"repository": repository, "tag": tag}).scalar()


_CURRENT = select(tags.c.digest).where(
    tags.c.repository_id == bindparam("repository_id"), tags.c.name == bindparam("tag")
)
_CURRENT_LOCKED = _CURRENT.with_for_update()
_INSERT_HISTORY = insert(tag_history)


def current(conn: Connection, repository_id: int, tag: str, lock: bool = True) -> str | None:
    """The digest the tag points to; `lock` holds the row until the write transaction ends."""
    statement = _CURRENT_LOCKED if lock else _CURRENT
    return conn.execute(statement, {"repository_id": repository_id, "tag": tag}).scalar()


def _history(
    conn: Connection, repository_id: int, tag: str, digest: str | None, previous: str | None, reason: str | None = None
) -> None:
    """A row of the tag's history, naming who moved it (storage/actor.py, as events do) and why
    when it was not a plain push or delete (a revert)."""
    row = {"repository_id": repository_id, "tag": tag, "digest": digest, "previous": previous, "at": time.time()}
    who = actor.current()
    conn.execute(_INSERT_HISTORY, {**row, "actor_kind": who.kind, "actor_name": who.name, "reason": reason})


def put(
    conn: Connection, repository_id: int, tag: str, digest: str, previous: str | None, reason: str | None = None
) -> str | None:
    """Point `tag` at `digest`; returns the digest it pointed to before (None if new). `previous`:
    what `current` (which locks the tag) returned earlier in this transaction."""
    now = time.time()
    if previous is None:
        row = {"repository_id": repository_id, "name": tag, "digest": digest, "updated_at": now}
        if insert_ignore(conn, tags, row).rowcount == 1:
            _history(conn, repository_id, tag, digest, None, reason)
            return None
        previous = current(conn, repository_id, tag)  # created meanwhile by a transaction that committed
    if previous == digest:
        return previous
    where = (tags.c.repository_id == repository_id) & (tags.c.name == tag)
    conn.execute(update(tags).where(where).values(digest=digest, updated_at=now))
    _history(conn, repository_id, tag, digest, previous, reason)
    return previous


def remove(conn: Connection, repository_id: int, tag: str) -> str | None:
    """Delete the tag; returns the digest it pointed to, None if there was no such tag."""
    previous = current(conn, repository_id, tag)
    if previous is None:
        return None
    conn.execute(delete(tags).where(tags.c.repository_id == repository_id, tags.c.name == tag))
    _history(conn, repository_id, tag, None, previous)
    return previous


def pointing_to(conn: Connection, repository_id: int, digest: str) -> list[str]:
    query = select(tags.c.name).where(tags.c.repository_id == repository_id, tags.c.digest == digest)
    return list(conn.execute(query.order_by(tags.c.name)).scalars())


def page(conn: Connection, repository_id: int, after: str, limit: int) -> list[str]:
    return list(conn.execute(_PAGE, {"repository_id": repository_id, "after": after, "limit": limit}).scalars())
