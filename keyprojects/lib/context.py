"""Where a change comes from (web, api, import, command, worker) and its request id.

Domain functions take the acting user explicitly; this context only adds the channel and the
request id to the audit records they write, whatever path called them.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class ChangeContext:
    request_id: str = ""
    channel: str = "system"


_current: contextvars.ContextVar[ChangeContext] = contextvars.ContextVar("change_context", default=ChangeContext())  # noqa: B039 (frozen)


def current() -> ChangeContext:
    return _current.get()


@contextlib.contextmanager
def bind(*, request_id: str | None = None, channel: str):
    token = _current.set(ChangeContext(request_id=request_id or uuid.uuid4().hex, channel=channel))
    try:
        yield
    finally:
        _current.reset(token)
