"""Alembic migrations of the tuning database (run through tuning_db.schema, not alembic.ini)."""
