"""django.contrib.admin with the 三员 admin site as the default site (see `admin_site`)."""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "keyprojects.security.admin_site.KeyprojectsAdminSite"
