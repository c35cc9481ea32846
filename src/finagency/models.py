"""Imports every feature's models so that Base.metadata knows all tables (for Alembic)."""

from finagency.accounts import models as accounts_models
from finagency.db import Base
from finagency.mail import models as mail_models
from finagency.system import models as system_models

__all__ = ["Base", "accounts_models", "mail_models", "system_models"]
