from django.db import models


class DataVersion(models.Model):
    """The current version of one topic of data ("progress", "problems", …) behind the cached roll-ups.

    Every change that affects a topic's figures replaces `token` in the same transaction (see
    `rollups.cache.bump`), so a cached figure computed from older data is never served again, on any
    app server: the token is read from the database, which all servers share. A random token rather
    than a counter, so a rolled-back transaction (or a restored backup) can never bring back a version
    number that cached entries already used for other data.
    """

    topic = models.CharField(max_length=40, primary_key=True)
    token = models.CharField(max_length=32)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.topic}: {self.token}"
