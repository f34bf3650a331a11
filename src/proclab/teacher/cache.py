"""The persistent response cache: SQLite in WAL mode, one row per successful request.

Keyed by the sha256 of the canonical JSON of the request body (model, messages and every
generation parameter; the API key is a header, never part of the body). Each row is committed
as soon as it is written, so a job killed with SIGKILL keeps every response it had received.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from proclab.errors import ConfigError

SCHEMA_VERSION = 1


def canonical_json(body: Mapping[str, Any]) -> bytes:
    """The request body as canonical JSON (sorted keys, no whitespace, UTF-8)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def cache_key(body: Mapping[str, Any]) -> str:
    """sha256 of the request body's canonical JSON."""
    return hashlib.sha256(canonical_json(body)).hexdigest()


class ResponseCache:
    """get/put of JSON records by key; safe to share between processes (WAL, busy timeout)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Autocommit (isolation_level=None): every put is its own committed transaction.
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against process death (SIGKILL), only not against power loss.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._check_schema()
        except sqlite3.DatabaseError as err:
            raise ConfigError(
                f"cannot open the teacher cache: {err}",
                where=str(self.path),
                fix="point cache_path at a new file, or delete this one if it is not a cache",
            ) from None

    def _check_schema(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                "key TEXT PRIMARY KEY, model TEXT NOT NULL, record TEXT NOT NULL, "
                "created REAL NOT NULL)"
            )
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        elif version != SCHEMA_VERSION:
            raise ConfigError(
                f"teacher cache has schema version {version}, expected {SCHEMA_VERSION}",
                where=str(self.path),
                fix="use a new cache_path (old caches are not migrated)",
            )

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT record FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, model: str, record: Mapping[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, model, record, created) VALUES (?, ?, ?, ?)",
            (key, model, json.dumps(record, ensure_ascii=False), time.time()),
        )

    def __iter__(self) -> Iterator[str]:
        """The stored keys (a snapshot taken when iteration starts)."""
        return iter([row[0] for row in self._db.execute("SELECT key FROM responses")])

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def __contains__(self, key: object) -> bool:
        row = self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone()
        return row is not None

    def close(self) -> None:
        self._db.close()
