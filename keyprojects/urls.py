from django.contrib import admin
from django.urls import include, path

from keyprojects.api.api import api

urlpatterns = [
    path("", include("keyprojects.projects.urls")),
    path("", include("keyprojects.progress.urls")),
    path("", include("keyprojects.progress.excel_urls")),
    path("", include("keyprojects.problems.urls")),
    path("", include("keyprojects.visits.urls")),
    path("", include("keyprojects.notify.urls")),
    path("", include("keyprojects.dashboard.urls")),
    path("", include("keyprojects.funding.urls")),
    path("", include("keyprojects.evaluation.urls")),
    path("", include("keyprojects.bulletins.urls")),
    path("accounts/", include("keyprojects.org.urls")),
    path("accounts/", include("keyprojects.security.urls")),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
