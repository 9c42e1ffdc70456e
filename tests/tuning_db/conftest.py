"""Databases for the tuning_db tests: the pg_url and db_url fixtures live in tests/conftest.py
(the job tests use them too)."""
