"""The deploy/ folder, linted with what installs here: no image can be built and no cluster reached."""

from __future__ import annotations

import sqlalchemy as sa

pytest_plugins = ["pg_server"]  # the pg_url fixture: a real PostgreSQL on loopback


def test_the_test_server_is_a_real_postgres_with_the_spd_database(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            version, database = conn.execute(sa.text("select version(), current_database()")).one()
    finally:
        engine.dispose()
    assert version.startswith("PostgreSQL") and database == "spd"
