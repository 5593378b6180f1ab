"""The gate of every business page: signed-in users with a business data scope only.

The 三员 accounts (系统、安全、审计管理员) have no business data and get 403 with the page's own message.
Each app names its gate (`project_page`, `problem_page`…) with `scoped_page`; the rule is written here once.
"""

from __future__ import annotations

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from keyprojects.projects.access import can_see_projects


def scoped_page(refusal: str):
    """A view decorator for pages with business data; `refusal` (marked with gettext_noop) is the 403 text,
    translated when the request is refused."""

    def decorator(view):
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not can_see_projects(request.user):
                raise PermissionDenied(_(refusal))
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
