"""The staff dashboard, served by the bot's own web server under ``PUFA_ADMIN_PATH``.

A door like the chat: each view parses the request, asks :mod:`bot.application.dashboard`
who is asking and what they may see, and renders a Jinja2 template (autoescaped) or JSON.
"""

from bot.web.views import Dashboard, add_dashboard_routes

__all__ = ["Dashboard", "add_dashboard_routes"]
