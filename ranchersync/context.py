"""The wiring every entry point shares: settings, engine, sessions and the token cipher."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ranchersync.access import audit
from ranchersync.kernel.config import Settings
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.security import checkpoint
from ranchersync.security.crypto import TokenCipher
from ranchersync.security.host_policy import HostPolicy
from ranchersync.security.keys import load_cipher
from ranchersync.storage import db

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """Long-lived, thread-safe resources; sessions are made per action and never kept."""

    settings: Settings

    @classmethod
    def from_env(cls) -> AppContext:
        """A context configured from RANCHERSYNC_* variables."""
        return cls(Settings.from_env())

    @cached_property
    def engine(self) -> Engine:
        return db.make_engine(self.settings.database_url)

    @cached_property
    def sessionmaker(self) -> sessionmaker[Session]:
        return db.make_sessionmaker(self.engine)

    @cached_property
    def cipher(self) -> TokenCipher:
        """The keys of this database; raises SecretKeyError rather than ever making a key that replaces them."""
        return load_cipher(self.settings, self.engine)

    def host_policy(self) -> HostPolicy:
        """Where this installation may connect: its settings' allowed hosts (RANCHERSYNC_ALLOWED_HOSTS) and the deny
        rules — for a host a caller names (a registry, a gate's Prometheus) before any lookup or connection."""
        return HostPolicy(self.settings.allowed_hosts)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends normally, rolled back when it raises.

        A database that cannot be used raises DatabaseUnavailable, a sentence; errors of the statement itself (a
        broken constraint a use-case expects, a refused change) pass through."""
        try:
            with self.sessionmaker() as session, session.begin():
                session.info[audit.CHECKPOINT_HOOK] = self._publish_checkpoint
                yield session
        except (OperationalError, InterfaceError) as exc:  # the database, not the statement: down, locked, full
            raise db.database_error(exc) from exc

    def _publish_checkpoint(self, event_id: int, event_hash: str) -> None:
        """Sign the audit chain's head and write it to the log stream (every `audit.CHECKPOINT_EVERY` events)."""
        try:
            checkpoint.publish(checkpoint.sign(self.cipher, event_id, event_hash))
        except RancherSyncError as error:  # no usable key: the event is recorded, only its copy outside is missing
            log.warning("audit checkpoint of event #%s not published: %s", event_id, error)

    def ping(self) -> None:
        """One cheap query: raises DatabaseUnavailable when the database cannot be used now (a pooled connection
        cut by a failover is replaced first: the engine pings before lending one)."""
        with self.session() as session:
            session.execute(text("SELECT 1"))

    def upgrade_database(self) -> None:
        """Apply pending migrations."""
        db.upgrade(self.engine)
