"""Alembic migrations of Maskline's schema; applied by `maskline migrate` and at start."""
