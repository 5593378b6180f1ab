"""Sign-in and sign-out pages."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.shortcuts import resolve_url

from keyprojects.org.forms import LoginForm
from keyprojects.org.models import Role, User

try:  # the demo district's shared password, shown only while demo accounts exist
    from keyprojects.org.demo_data import DEMO_PASSWORD
except ImportError:  # pragma: no cover - demo data not installed
    DEMO_PASSWORD = ""


class LoginView(auth_views.LoginView):
    template_name = "org/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_redirect_url(self):
        url = super().get_redirect_url()
        return "" if url == "/" else url  # the site root means "my landing page"

    def get_default_redirect_url(self):
        # Leaders and dispatchers land on the cockpit; everyone else on the project library.
        if self.request.user.has_role(Role.LEADER, Role.DISPATCHER):
            return resolve_url("dashboard")
        return super().get_default_redirect_url()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["demo_accounts"] = self.demo_accounts()
        ctx["demo_password"] = DEMO_PASSWORD
        return ctx

    @staticmethod
    def demo_accounts() -> list[dict]:
        """Demo logins with their roles, in one query; empty on a production database."""
        rows = (
            User.objects.filter(is_demo=True, is_active=True)
            .exclude(password__startswith="!")  # seeded people without a usable password are not logins
            .order_by("id")
            .values_list("username", "full_name", "roles__role")
        )
        accounts: dict[str, dict] = {}
        for username, full_name, role in rows[:200]:
            account = accounts.setdefault(username, {"username": username, "full_name": full_name, "roles": []})
            if role:
                account["roles"].append(Role(role).label)
        return list(accounts.values())


class LogoutView(auth_views.LogoutView):
    pass
