"""What is left of a forgotten leader: salted hashes of their address and form references, and a date.

The salt is the workspace's own (random, in the state database), so a hash means nothing outside it and
cannot be looked up in a list of addresses made elsewhere; inside the workspace it lets a returning form
and a roster row of that leader be recognised. The same hashing makes the names of leaders that a command
hands to Prefect (``clb forms --reissue``) pseudonyms, so Prefect's database never holds an address.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Iterable

from pipeline.config import Config
from pipeline.state import Engine, get_meta, set_meta, tombstoned_addresses, tombstoned_token

SALT_KEY = "salt"


def salt(engine: Engine) -> str:
    """The workspace's salt, made on first use."""
    value = get_meta(engine, SALT_KEY)
    if value is None:
        value = secrets.token_hex(32)
        set_meta(engine, SALT_KEY, value)
    return value


def _existing_salt(engine: Engine) -> str | None:
    """The salt when the workspace has one (none: no one was ever forgotten); never writes, so that
    read-only commands (clb check) can ask."""
    return get_meta(engine, SALT_KEY)


def pseudonym(engine: Engine, text: str, salt_value: str | None = None) -> str:
    """A salted sha256 of an address (compared case-insensitively) or a form reference."""
    key = salt_value if salt_value is not None else salt(engine)
    return hashlib.sha256(f"{key}|{text.strip().casefold()}".encode()).hexdigest()


def forgotten_on(engine: Engine, emails: Iterable[str]) -> dict[str, str]:
    """The addresses among ``emails`` whose leader asked to be forgotten, with the date."""
    key = _existing_salt(engine)
    if key is None:
        return {}
    hashed = {pseudonym(engine, email, key): email for email in emails}
    return {hashed[digest]: day for digest, day in tombstoned_addresses(engine).items() if digest in hashed}


def token_forgotten(engine: Engine, token: str) -> str | None:
    """The date a form reference's leader was forgotten, or None."""
    key = _existing_salt(engine)
    if key is None:
        return None
    return tombstoned_token(engine, pseudonym(engine, token, key))


def without_forgotten(config: Config, engine: Engine) -> Config:
    """``config`` with the roster rows of forgotten leaders left out: nothing clb makes (forms, workbooks,
    letters, messages) names them again, even while their row is still on the roster."""
    return leave_out(config, forgotten_on(engine, [leader.id for leader in config.roster]))


def leave_out(config: Config, gone: Iterable[str]) -> Config:
    """``config`` without the roster rows of these addresses (found by ``forgotten_on``)."""
    left = set(gone)
    if not left:
        return config
    return dataclasses.replace(config, roster=tuple(leader for leader in config.roster if leader.id not in left))
