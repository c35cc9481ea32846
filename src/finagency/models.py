"""Imports every feature's models so that Base.metadata knows all tables (for Alembic)."""

from finagency.accounts import models as accounts_models
from finagency.compliance import models as compliance_models
from finagency.content import models as content_models
from finagency.db import Base
from finagency.mail import models as mail_models
from finagency.market import models as market_models
from finagency.media import models as media_models
from finagency.publishing import models as publishing_models
from finagency.research import models as research_models
from finagency.system import models as system_models

__all__ = [
    "Base",
    "accounts_models",
    "compliance_models",
    "content_models",
    "mail_models",
    "market_models",
    "media_models",
    "publishing_models",
    "research_models",
    "system_models",
]
