import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyprojects.settings")
application = get_wsgi_application()

# Import the URLconf (and with it the API's schemas) when the worker starts, not on its first request,
# which would otherwise take about a second longer than the others.
get_resolver().url_patterns  # noqa: B018
