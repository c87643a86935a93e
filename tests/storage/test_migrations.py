"""Migrations that rewrite data, checked on rows written in the old shape."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from storage.metadata import migrate
from storage.metadata.engine import Database
from storage.metadata.schema import uploads

FS_ID = "00000000-0000-4000-8000-000000000001"
S3_ID = "00000000-0000-4000-8000-000000000002"
SEGMENT = "00000-0123456789abcdef0123456789abcdef"
OLD_STATES = {
    FS_ID: {"key": f"uploads/{FS_ID}/data"},
    S3_ID: {
        "dir": f"uploads/{S3_ID}/",
        "segments": [{"key": f"uploads/{S3_ID}/{SEGMENT}", "size": 7}],
        "obsolete": [f"uploads/{S3_ID}/00001-ffffffffffffffffffffffffffffffff"],
    },
}
# The table as it was before 0008 (no lease_holder): the schema module describes the newest one.
_INSERT = text(
    'INSERT INTO uploads (id, repository, "offset", algorithm, driver_state, created_at, updated_at) '
    "VALUES (:id, :repository, :offset, :algorithm, :driver_state, :created_at, :updated_at)"
)


# The revision 0008_harden follows (whatever the merges chain it to).
BEFORE = str(ScriptDirectory.from_config(migrate._config()).get_revision("0008_harden").down_revision)


def _to(db: Database, revision: str, down: bool = False) -> None:
    cfg = migrate._config()
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
        conn.commit()


def _states(db: Database) -> dict[str, object]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, driver_state FROM uploads")).all()
    return {row.id: json.loads(row.driver_state) for row in rows}


def test_0008_names_upload_states_by_storage_keys_and_back(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    _to(db, BEFORE)
    with db.engine.begin() as conn:
        for upload_id, state in OLD_STATES.items():
            row = {"id": upload_id, "repository": "r", "offset": 7, "algorithm": "sha256"}
            values = {**row, "driver_state": json.dumps(state), "created_at": 0.0, "updated_at": 0.0}
            conn.execute(_INSERT, values)
    migrate.upgrade(db)
    assert _states(db) == {
        FS_ID: {},
        S3_ID: {"segments": [[SEGMENT, 7]], "obsolete": ["00001-ffffffffffffffffffffffffffffffff"]},
    }
    with db.engine.connect() as conn:
        assert conn.execute(select(uploads.c.lease_holder)).scalars().all() == [None, None]
    _to(db, BEFORE, down=True)
    assert _states(db) == OLD_STATES
    db.dispose()
