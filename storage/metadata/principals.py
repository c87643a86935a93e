"""Principal rows: users and robot accounts, one namespace of login names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from .schema import principals


@dataclass(frozen=True, slots=True)
class PrincipalRow:
    id: int
    kind: str
    name: str
    secret_hash: str | None
    description: str | None
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def active(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def row(record: Any) -> PrincipalRow:
    return PrincipalRow(
        id=record.id,
        kind=record.kind,
        name=record.name,
        secret_hash=record.secret_hash,
        description=record.description,
        created_at=record.created_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
    )


def find(conn: Connection, name: str) -> PrincipalRow | None:
    record = conn.execute(select(principals).where(principals.c.name == name)).first()
    return row(record) if record else None


def create(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(insert(principals).values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def change(conn: Connection, principal_id: int, **values: Any) -> None:
    conn.execute(update(principals).where(principals.c.id == principal_id).values(**values))


def remove(conn: Connection, principal_id: int) -> None:
    conn.execute(delete(principals).where(principals.c.id == principal_id))


def listing(conn: Connection, kind: str) -> list[PrincipalRow]:
    query = select(principals).where(principals.c.kind == kind).order_by(principals.c.name)
    return [row(r) for r in conn.execute(query)]
