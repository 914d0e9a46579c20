"""The Optuna storage of ``safety-rlhf tune``: its URL checked before anything is written
(:func:`check_storage_url`), made absolute for Ray tasks (:func:`absolute_url`), shown
and recorded without its password (:func:`shown_url`, :func:`recorded_argv`), and opened
with heartbeats (:func:`open_storage`).

URLs are parsed by SQLAlchemy (it comes with Optuna), as the storage parses them: a SQLite
URL is any ``sqlite`` driver (``sqlite+pysqlite://``), its file ``url.database``, query
arguments and all.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

from safety_rlhf.data.output_paths import check_output_file

__all__ = [
    "HEARTBEAT_GRACE",
    "HEARTBEAT_INTERVAL",
    "absolute_url",
    "check_storage_url",
    "open_storage",
    "recorded_argv",
    "shown_url",
    "sqlite_url",
]

#: Seconds between a running trial's heartbeats in the storage, and seconds without one
#: after which the next trial to start marks it failed (its command was killed).
HEARTBEAT_INTERVAL = 10
HEARTBEAT_GRACE = 30

#: Database schemes Optuna's RDB storage (SQLAlchemy) is used with here.
_SCHEMES = ("sqlite", "postgresql", "mysql")


def _parse(url: str) -> Any:
    """``url`` parsed by SQLAlchemy (which comes with Optuna), or ``None`` if it does not
    parse (or SQLAlchemy is missing)."""
    try:
        from sqlalchemy.engine import make_url  # with the [tune] extra: imported when used
    except ImportError:
        return None
    try:
        return make_url(url)
    except Exception:  # ArgumentError; ValueError for a port that is not a number
        return None


def shown_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***`` (also a ``password`` query
    argument).

    :param url: a database URL.

    >>> shown_url("postgresql://tuner:secret@db:5432/studies")
    'postgresql://tuner:***@db:5432/studies'
    >>> shown_url("postgresql://tuner:se/cret@db/studies")
    'postgresql://tuner:***@db/studies'
    """
    parsed = _parse(url)
    if parsed is None:  # not a URL SQLAlchemy takes: hide anything up to the last "@"
        return re.sub(r"(://[^:/@]*):.*@", r"\1:***@", url)
    secret = [k for k in parsed.query if "password" in k.lower()]
    if parsed.password is None and not secret:
        return url  # as typed
    query = {k: ("***" if k in secret else v) for k, v in parsed.query.items()}
    return str(parsed.set(query=query).render_as_string(hide_password=True))


def recorded_argv(argv: list[str], storage: str | None) -> list[str]:
    """The command line ``argv`` as recorded (the YAML header, every run's
    ``command.txt``, messages): the ``--storage`` URL's password replaced by ``***``.

    :param argv: the command line, without the program name.
    :param storage: the ``--storage`` value, as typed (``None``: no ``--storage``).

    >>> recorded_argv(["--storage", "mysql://u:pw@h/db"], "mysql://u:pw@h/db")
    ['--storage', 'mysql://u:***@h/db']
    """
    if storage is None or shown_url(storage) == storage:
        return list(argv)
    # "--storage URL", "--storage=URL", an abbreviated flag: the value as typed, anywhere
    return [arg.replace(storage, shown_url(storage)) for arg in argv]


def _in_memory(url: str) -> ValueError:
    return ValueError(
        f"--storage {url}: an in-memory database cannot be resumed or shared; name a "
        "file, e.g. sqlite:///tune/study.db"
    )


def _sqlite_file(url: str, parsed: Any) -> str | None:
    """The file of a SQLite URL, whatever its driver (``None`` for other databases).

    :raises ValueError: for an in-memory database or a SQLite URI filename.
    """
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if database in (None, "", ":memory:") or "memory" in _values(parsed, "mode"):
        raise _in_memory(url)
    if database.startswith("file:") or "uri" in parsed.query:
        raise ValueError(
            f"--storage {url}: SQLite URI filenames (file:..., ?uri=true) are not taken; "
            "name a file, e.g. sqlite:///tune/study.db"
        )
    return str(database)


def _values(parsed: Any, key: str) -> list[str]:
    value = parsed.query.get(key, ())
    return [value] if isinstance(value, str) else list(value)


def sqlite_url(path: str | Path) -> str:
    """The SQLite URL of the file ``path`` (made absolute; characters a URL would take
    for its syntax, such as ``?`` or ``#``, escaped).

    :param path: the database file.
    """
    absolute = str(Path(path).absolute())
    try:
        from sqlalchemy.engine import URL  # with the [tune] extra: imported when used
    except ImportError:
        return f"sqlite:///{absolute}"
    return str(URL.create("sqlite", database=absolute).render_as_string(hide_password=False))


def absolute_url(url: str) -> str:
    """``url`` with a relative SQLite path made absolute, for every SQLite driver (Ray
    tasks run in other folders); other URLs unchanged.

    :param url: a storage URL, checked by :func:`check_storage_url`.
    """
    parsed = _parse(url)
    if parsed is None or parsed.get_backend_name() != "sqlite":
        return url
    database = parsed.database
    if not database or Path(database).is_absolute():
        return url
    return str(
        parsed.set(database=str(Path(database).absolute())).render_as_string(hide_password=False)
    )


def check_storage_url(url: str, folder_may_be_missing: bool = False) -> None:
    """Refuse a storage URL that cannot hold a study, before anything is written. A SQLite
    file is checked where the URL names it (relative to the working folder, before it is
    made absolute), whatever the driver (``sqlite+pysqlite://``) and query arguments.

    :param url: the ``--storage`` URL.
    :param folder_may_be_missing: the SQLite file's folder is made by the command (the
        default storage in a new output folder).
    :raises ValueError: one line naming ``--storage``: a database other than SQLite,
        PostgreSQL or MySQL, an in-memory SQLite database, a SQLite URI filename, a SQLite
        file in a missing folder, or at a path that is a folder, a link or inside the
        package.
    """
    parsed = _parse(url)
    if parsed is None or parsed.get_backend_name() not in _SCHEMES:
        raise ValueError(
            f"--storage {shown_url(url)}: expected a database URL (sqlite:///PATH on one "
            "machine, postgresql://USER@HOST/DB for a cluster)"
        )
    path = _sqlite_file(url, parsed)
    if path is None:
        return
    check_output_file(path, "--storage")
    folder = Path(path).parent
    if not folder_may_be_missing and not folder.is_dir():
        raise ValueError(f"--storage {url}: folder {folder} does not exist")


def _is_sqlite(url: str) -> bool:
    parsed = _parse(url)
    return parsed is not None and parsed.get_backend_name() == "sqlite"


def open_storage(optuna: ModuleType, url: str) -> Any:
    """Optuna's RDB storage at ``url`` with heartbeats (:data:`HEARTBEAT_INTERVAL`,
    :data:`HEARTBEAT_GRACE`): a trial whose command was killed is marked failed by the
    next trial that starts once its heartbeat is :data:`HEARTBEAT_GRACE` seconds old.

    :param optuna: the ``optuna`` module.
    :param url: the storage URL (checked by :func:`check_storage_url` first).

    :raises ValueError: one line naming ``--storage`` when the database cannot be opened.
    """
    check_storage_url(url)
    # SQLite: wait for the lock (parallel Ray trials write to one file) instead of failing
    engine = {"connect_args": {"timeout": 60}} if _is_sqlite(url) else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine,
                heartbeat_interval=HEARTBEAT_INTERVAL,
                grace_period=HEARTBEAT_GRACE,
            )
    except Exception as exc:  # SQLAlchemy's errors, a missing database driver
        reason = " ".join(str(exc).split("\n")[0].split())
        raise ValueError(
            f"--storage {shown_url(url)}: cannot open the database ({type(exc).__name__}: {reason})"
        ) from None
