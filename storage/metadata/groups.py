"""Groups of principals: a permission granted to a group applies to each member."""

from __future__ import annotations

import time

from sqlalchemy import Connection, delete, insert, select

from .schema import group_members, groups, principals
from .upsert import insert_ignore


def find(conn: Connection, name: str) -> int | None:
    return conn.execute(select(groups.c.id).where(groups.c.name == name)).scalar()


def create(conn: Connection, name: str) -> None:
    conn.execute(insert(groups).values(name=name, created_at=time.time()))


def remove(conn: Connection, group_id: int) -> None:
    conn.execute(delete(groups).where(groups.c.id == group_id))


def add_member(conn: Connection, group_id: int, principal_id: int) -> None:
    insert_ignore(conn, group_members, {"group_id": group_id, "principal_id": principal_id})


def remove_member(conn: Connection, group_id: int, principal_id: int) -> bool:
    where = (group_members.c.group_id == group_id) & (group_members.c.principal_id == principal_id)
    return conn.execute(delete(group_members).where(where)).rowcount > 0


def of_principal(conn: Connection, principal_id: int) -> list[str]:
    query = (
        select(groups.c.name)
        .join(group_members, group_members.c.group_id == groups.c.id)
        .where(group_members.c.principal_id == principal_id)
    )
    return sorted(conn.execute(query).scalars())


def of_principals(conn: Connection) -> dict[int, list[str]]:
    """The groups of every principal that belongs to one, by principal id (one query)."""
    found: dict[int, list[str]] = {}
    query = select(group_members.c.principal_id, groups.c.name).join(groups, groups.c.id == group_members.c.group_id)
    for principal_id, name in conn.execute(query.order_by(groups.c.name)):
        found.setdefault(principal_id, []).append(name)
    return found


def listing(conn: Connection) -> dict[str, list[str]]:
    """Every group with its members' names."""
    found: dict[str, list[str]] = {name: [] for name in conn.execute(select(groups.c.name)).scalars()}
    query = (
        select(groups.c.name, principals.c.name)
        .join(group_members, group_members.c.group_id == groups.c.id)
        .join(principals, principals.c.id == group_members.c.principal_id)
    )
    for group, member in conn.execute(query):
        found[group].append(member)
    return {name: sorted(members) for name, members in sorted(found.items())}
