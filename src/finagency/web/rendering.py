"""Templates and the headers every dashboard page carries."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from finagency.accounts.permissions import Permission
from finagency.web import formatting
from finagency.web.assets import static_url

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["static_url"] = static_url
templates.env.globals["permissions"] = Permission
templates.env.filters["duration"] = formatting.duration
templates.env.filters["percent"] = formatting.percent
templates.env.filters["moment"] = formatting.moment

# No inline script or style anywhere (htmx's own indicator style is switched off in base.html),
# so the pages work under this policy; scripts, styles and API calls come from this origin only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


def page(
    request: Request,
    name: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: object,
) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    for header, value in (headers or {}).items():
        response.headers[header] = value
    return response
