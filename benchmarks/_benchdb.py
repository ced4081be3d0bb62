"""Fresh, private databases for the benchmark scripts (never the developer's db.sqlite3 or a test database).

SQLite: a new file under /tmp. PostgreSQL: a database named bench_imp_<name> on 127.0.0.1:5432,
created here and dropped by `drop()` unless the caller keeps it.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")


def database_url(db: str, name: str) -> str:
    if db == "sqlite":
        return f"sqlite:////tmp/bench_imp_{name}.sqlite3"
    return f"{PG_SERVER}/bench_imp_{name}"


def create(db: str, name: str) -> str:
    """Create an empty database, point Django at it, migrate; returns the URL."""
    if db == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"/tmp/bench_imp_{name}.sqlite3{suffix}").unlink(missing_ok=True)
    else:
        _admin(f"DROP DATABASE IF EXISTS bench_imp_{name}", f"CREATE DATABASE bench_imp_{name}")
    use(db, name)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return database_url(db, name)


def use(db: str, name: str) -> None:
    """Point Django at an existing benchmark database (call before anything imports settings)."""
    os.environ["DATABASE_URL"] = database_url(db, name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def drop(db: str, name: str) -> None:
    if db == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"/tmp/bench_imp_{name}.sqlite3{suffix}").unlink(missing_ok=True)
    else:
        from django.db import connections

        connections.close_all()
        _admin(f"DROP DATABASE IF EXISTS bench_imp_{name}")


def _admin(*statements: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


def rss_mb() -> float:
    """Current resident memory (VmRSS) in MB."""
    return _status("VmRSS")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (VmHWM) in MB."""
    return _status("VmHWM")


def _status(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")
