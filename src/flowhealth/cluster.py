"""Replicas on one PostgreSQL database: membership, leadership and shares of the probes.

PostgreSQL is the coordination engine; there is no gossip and no consensus of our own:

* membership: every replica upserts its row in `replica` each heartbeat, stamped with the
  database's clock (replicas' clocks may disagree), and deletes rows silent for longer than the
  expiry. The live rows are the members.
* leadership: a session advisory lock (`pg_try_advisory_lock`) on a connection the leader keeps
  open. When the leader dies, PostgreSQL closes its connection and the lock is free at once; the
  next heartbeat of another replica takes it. The leader evaluates rules, refreshes trace signals
  and prunes.
* probe shares: rendezvous hashing of each probe over the live members, so a probe moves only when
  the replica that ran it leaves, or when a new one wins it.

On SQLite there is one process (see `store.sqlite_guard`): it is `single`, leads, and runs every probe.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from .store.db import transaction
from .store.replica_tables import Replica
from .store.upsert import upsert

log = logging.getLogger(__name__)

# pg_try_advisory_lock takes a bigint: "flowhealth-leader" folded into 63 bits.
LEADER_LOCK_KEY = 0x666C6F776C656164
ProbeKey = tuple[str, str]
REPLICA: Table = Replica.__table__  # type: ignore[attr-defined]


class Role(enum.StrEnum):
    """What a replica does besides serving the API, ingesting spans and delivering notifications."""

    SINGLE = "single"  # SQLite: the only process
    LEADER = "leader"  # evaluates rules, refreshes trace signals, prunes
    FOLLOWER = "follower"


def owner_of(key: ProbeKey, members: Iterable[str]) -> str:
    """The member that runs a probe: highest hash of (member, probe) wins (rendezvous hashing)."""
    name = f"{key[0]}/{key[1]}"
    return max(members, key=lambda member: hashlib.sha256(f"{member}\0{name}".encode()).digest())


@dataclass(frozen=True)
class ClusterView:
    """One replica's view after its last heartbeat."""

    replica_id: str
    role: Role
    members: tuple[str, ...]
    owned: frozenset[ProbeKey]
    newest_model: str = ""  # digest of the model most recently loaded by any live replica

    @property
    def leads(self) -> bool:
        return self.role is not Role.FOLLOWER

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.replica_id,
            "role": self.role.value,
            "replicas": len(self.members),
            "probes": sorted(f"{flow}/{signal}" for flow, signal in self.owned),
        }


@dataclass
class Cluster:
    """This replica's membership, leadership and probe share; `heartbeat` refreshes all three."""

    engine: Engine
    probe_keys: frozenset[ProbeKey]
    model_digest: str = ""
    expiry: float = 5.0
    on_newer_model: Callable[[str], None] | None = None
    replica_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")
    _lock_connection: Connection | None = field(default=None, init=False, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _started_at: datetime = field(default_factory=lambda: datetime.now(UTC), init=False)
    _model_loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC), init=False)
    view: ClusterView = field(init=False)

    def __post_init__(self) -> None:
        single = self.engine.dialect.name != "postgresql"
        # Until the first heartbeat a replica runs nothing that needs a share: better late than twice.
        self.view = ClusterView(
            self.replica_id,
            Role.SINGLE if single else Role.FOLLOWER,
            (self.replica_id,),
            self.probe_keys if single else frozenset(),
        )

    @property
    def replicated(self) -> bool:
        return self.view.role is not Role.SINGLE

    def model_changed(self, digest: str, probe_keys: Iterable[ProbeKey]) -> None:
        """After a reload: the new model's digest (other replicas follow it) and probes (shares change)."""
        with self._guard:
            self.model_digest = digest
            self.probe_keys = frozenset(probe_keys)
            self._model_loaded_at = datetime.now(UTC)
            if not self.replicated:
                self.view = ClusterView(self.replica_id, Role.SINGLE, (self.replica_id,), self.probe_keys)

    def owns(self, key: ProbeKey) -> bool:
        return key in self.view.owned

    def heartbeat(self) -> ClusterView:
        """Stay a member, keep or take leadership, recompute the probe share."""
        if not self.replicated:
            return self.view
        with self._guard:
            leads = self._lead()
            role = Role.LEADER if leads else Role.FOLLOWER
            with transaction(self.engine) as session:
                connection = session.connection()
                now: datetime = connection.execute(select(func.now())).scalar_one()
                horizon = now - timedelta(seconds=self.expiry)
                connection.execute(delete(REPLICA).where(REPLICA.c.heartbeat_at < horizon))
                rows = connection.execute(select(REPLICA.c.id, REPLICA.c.model_digest, REPLICA.c.model_loaded_at)).all()
                members = sorted({str(row[0]) for row in rows} | {self.replica_id})
                owned = frozenset(k for k in self.probe_keys if owner_of(k, members) == self.replica_id)
                upsert(
                    connection,
                    REPLICA,
                    [
                        {
                            "id": self.replica_id,
                            "role": role.value,
                            "started_at": self._started_at,
                            "heartbeat_at": now,
                            "probes": len(owned),
                            "model_digest": self.model_digest,
                            "model_loaded_at": self._model_loaded_at,
                        }
                    ],
                    ["id"],
                )
            others = [(row[2], str(row[1])) for row in rows if row[0] != self.replica_id]
            newest = max([(self._model_loaded_at, self.model_digest), *others])[1]
            if set(self.view.owned) != set(owned) or self.view.role is not role:
                log.info("replica %s: %s, %d replicas, runs %d probes", self.replica_id, role, len(members), len(owned))
            self.view = ClusterView(self.replica_id, role, tuple(members), owned, newest)
        if newest and newest != self.model_digest and self.on_newer_model is not None:
            self.on_newer_model(newest)
        return self.view

    def _lead(self) -> bool:
        """Keep the leader lock (its connection still answers) or try to take it."""
        if self._lock_connection is not None:
            try:
                self._lock_connection.exec_driver_sql("SELECT 1")
                self._lock_connection.commit()
                return True
            except SQLAlchemyError:
                # The connection broke: PostgreSQL released the lock with it, someone else may hold it now.
                log.warning("replica %s lost the leader lock with its database connection", self.replica_id)
                self._drop_lock()
                return False
        connection = self.engine.connect()
        try:
            got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}).scalar())
            connection.commit()  # the session lock outlives the transaction; no idle transaction stays open
        except SQLAlchemyError:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._lock_connection = connection
        log.warning("replica %s is the leader now", self.replica_id)
        return True

    def _drop_lock(self) -> None:
        connection, self._lock_connection = self._lock_connection, None
        if connection is not None:
            try:
                connection.invalidate()  # never back to the pool: the lock must go with the session
                connection.close()
            except SQLAlchemyError:
                pass

    def close(self) -> None:
        """Leave: release the leader lock at once and remove our row, so shares move without waiting."""
        if not self.replicated:
            return
        with self._guard:
            self._drop_lock()
            try:
                with transaction(self.engine) as session:
                    session.connection().execute(delete(REPLICA).where(REPLICA.c.id == self.replica_id))
            except Exception as exc:  # leaving on a broken database: the row expires by itself
                log.warning("replica %s left without removing its row: %s", self.replica_id, exc)
            self.view = ClusterView(self.replica_id, Role.FOLLOWER, (), frozenset())
