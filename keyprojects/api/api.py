"""The JSON API under /api/v1/ (django-ninja). Filled in by the API work."""

from ninja import NinjaAPI

api = NinjaAPI(title="keyprojects API", version="1", urls_namespace="api")
