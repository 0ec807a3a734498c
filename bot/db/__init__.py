"""The journey database: its engine (engine.py), the schema of every table (schema.py)
and the Alembic migrations that build it (migrate.py, migrations/)."""
