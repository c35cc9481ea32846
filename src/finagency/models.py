"""Imports every feature's models so that Base.metadata knows all tables (for Alembic)."""

from finagency.db import Base

__all__ = ["Base"]
