"""Alembic migrations of the run store; ``SqlRunStore`` applies them when it opens a store."""
