"""Creating and delivering notifications: inbox rows, e-mail, webhook robots.

`notify()` writes the rows: an inbox row per recipient (delivered when written), and a pending
e-mail or webhook row when the recipient switched that channel on. The worker calls
`deliver_pending()`, which claims each pending row with a conditional UPDATE committed before sending
(so two workers never send the same row) and records success or the error. A send that fails is
retried up to `MAX_ATTEMPTS` times with a growing delay, then left as failed; a row stuck in
"sending" (its worker died mid-send) is retried after `SENDING_LEASE`, so a crash can at worst send
one message twice, never lose it. Nothing here raises on a network or mail failure.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F, Q
from django.utils import timezone

from keyprojects.notify.models import Channel, DeliveryStatus, Notification, NotificationPreference

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RETRY_DELAY = datetime.timedelta(minutes=5)
SENDING_LEASE = datetime.timedelta(minutes=10)
DEFAULT_WEBHOOK_TIMEOUT = 3.0


def _preferences(user_ids: list[int]) -> dict[int, NotificationPreference]:
    return {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=user_ids)}


def notify(
    recipients: Iterable,
    *,
    title: str,
    body: str = "",
    link: str = "",
    source_key: str = "",
    object_type: str = "",
    object_id: str = "",
    now: datetime.datetime | None = None,
) -> list[Notification]:
    """Write the notifications for `recipients` (users; duplicates and inactive users are skipped).

    Every recipient gets an inbox row; e-mail and webhook rows follow each user's preferences
    (e-mail on by default when the user has an address; webhook off by default). Two queries
    plus one bulk insert.
    """
    now = now or timezone.now()
    users = {u.pk: u for u in recipients if u is not None and u.pk and u.is_active}
    prefs = _preferences(list(users))
    rows: list[Notification] = []
    common = dict(
        title=title[:200], body=body, link=link[:300], source_key=source_key[:64], object_type=object_type[:40],
        object_id=str(object_id)[:40], created_at=now,
    )  # fmt: skip
    for user in users.values():
        rows.append(Notification(recipient=user, channel=Channel.INBOX, status=DeliveryStatus.SENT, delivered_at=now,
                                 **common))  # fmt: skip
        pref = prefs.get(user.pk)
        email_on = pref.email_enabled if pref else True
        if email_on and user.email:
            rows.append(Notification(recipient=user, channel=Channel.EMAIL, next_attempt_at=now, **common))
        if pref and pref.webhook_enabled and pref.webhook_url:
            rows.append(Notification(recipient=user, channel=Channel.WEBHOOK, next_attempt_at=now, **common))
    return Notification.objects.bulk_create(rows)


# --- the channels ------------------------------------------------------------------------------------


def _message_text(n: Notification) -> str:
    parts = [n.title, n.body]
    if n.link:
        base = getattr(settings, "NOTIFY_BASE_URL", "")
        parts.append(f"{base}{n.link}")
    return "\n".join(p for p in parts if p)


def send_email(n: Notification) -> str | None:
    """Send one e-mail through Django's mail backend; the error text, or None on success."""
    address = n.recipient.email
    if not address:
        return "用户未填写电子邮箱。"
    try:
        sent = send_mail(
            subject=n.title.replace("\n", " ")[:200],
            message=_message_text(n),
            from_email=None,
            recipient_list=[address],
            fail_silently=False,
        )
    except Exception as exc:  # any backend failure is recorded, never raised
        return f"邮件发送失败：{type(exc).__name__}: {exc}"[:500]
    return None if sent else "邮件未发送（后端返回 0）。"


def webhook_payload(n: Notification) -> dict:
    """The text message both 企业微信 and 钉钉 group robots accept."""
    return {"msgtype": "text", "text": {"content": _message_text(n)}}


def send_webhook(n: Notification) -> str | None:
    """POST one message to the user's robot webhook; the error text, or None on success."""
    pref = NotificationPreference.objects.filter(user_id=n.recipient_id).first()
    url = pref.webhook_url.strip() if pref else ""
    if not url.lower().startswith(("http://", "https://")):
        return "未设置有效的群机器人地址。"
    data = json.dumps(webhook_payload(n), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})  # fmt: skip
    timeout = float(getattr(settings, "NOTIFY_WEBHOOK_TIMEOUT", DEFAULT_WEBHOOK_TIMEOUT))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
            status = response.status
            raw = response.read(4096)
    except urllib.error.HTTPError as exc:
        return f"群机器人返回 HTTP {exc.code}。"
    except Exception as exc:  # timeouts, refused connections, DNS: recorded, never raised
        return f"群机器人连接失败：{type(exc).__name__}: {exc}"[:500]
    if not 200 <= status < 300:
        return f"群机器人返回 HTTP {status}。"
    try:
        answer = json.loads(raw.decode("utf-8") or "{}")
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
        return f"群机器人拒收：{answer.get('errcode')} {answer.get('errmsg', '')}"[:500]
    return None


SENDERS = {Channel.EMAIL: send_email, Channel.WEBHOOK: send_webhook}


# --- the worker's delivery pass -------------------------------------------------------------------------


def _claim(pk: int, attempts: int, now: datetime.datetime) -> bool:
    """Take one pending row (or one whose sender died) for this worker; True when it is ours."""
    stale = now - SENDING_LEASE
    claimable = Q(status=DeliveryStatus.PENDING) | Q(status=DeliveryStatus.SENDING, claimed_at__lt=stale)
    return (
        Notification.objects.filter(claimable, pk=pk, attempts=attempts).update(
            status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now
        )
        == 1
    )


def deliver(n: Notification, *, now: datetime.datetime) -> bool:
    """Send a claimed row and record the outcome. True when it was delivered."""
    sender = SENDERS.get(n.channel)
    error = sender(n) if sender else None
    if error is None:
        Notification.objects.filter(pk=n.pk).update(
            status=DeliveryStatus.SENT, delivered_at=timezone.now(), last_error="", next_attempt_at=None
        )
        return True
    logger.warning("notify: %s to user %s failed: %s", n.channel, n.recipient_id, error)
    if n.attempts + 1 >= MAX_ATTEMPTS:
        Notification.objects.filter(pk=n.pk).update(
            status=DeliveryStatus.FAILED, last_error=error, next_attempt_at=None
        )
    else:
        retry_at = now + RETRY_DELAY * (n.attempts + 1)
        Notification.objects.filter(pk=n.pk).update(
            status=DeliveryStatus.PENDING, last_error=error, next_attempt_at=retry_at
        )
    return False


def deliver_pending(
    now: datetime.datetime | None = None, *, batch: int = 500, started: float | None = None
) -> tuple[int, int]:
    """Send the e-mail and webhook rows that are due; (delivered, failed) counts.

    Each row is claimed with a conditional UPDATE in autocommit before it is sent, so a second
    worker running at the same moment skips it. A row's lease runs from when it is claimed: `now`
    plus the time since `started` (the `time.monotonic()` at which `now` was read; default: this
    call), or a long pass (slow sends) would claim rows that another worker already takes for stale.
    """
    now = now or timezone.now()
    started = time.monotonic() if started is None else started
    stale = now - SENDING_LEASE
    due = (
        Notification.objects.filter(
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING], next_attempt_at__lte=now
        )
        .filter(Q(status=DeliveryStatus.PENDING) | Q(claimed_at__lt=stale))
        .exclude(channel=Channel.INBOX)
        .order_by("next_attempt_at", "id")
        .values_list("pk", "attempts")[:batch]
    )
    delivered = failed = 0
    for pk, attempts in list(due):
        if not _claim(pk, attempts, now + datetime.timedelta(seconds=time.monotonic() - started)):
            continue
        n = Notification.objects.select_related("recipient").get(pk=pk)
        n.attempts = attempts
        if deliver(n, now=now):
            delivered += 1
        else:
            failed += 1
    return delivered, failed


# --- the inbox ---------------------------------------------------------------------------------------------


def inbox(user):
    """The user's inbox, newest first."""
    return Notification.objects.filter(recipient=user, channel=Channel.INBOX).order_by("-id")


def unread_count(user) -> int:
    """Unread inbox messages (one indexed count)."""
    return Notification.objects.filter(recipient=user, channel=Channel.INBOX, read_at__isnull=True).count()


def mark_read(user, ids: Iterable[int] | None = None, *, now: datetime.datetime | None = None) -> int:
    """Mark the user's inbox messages read (all of them when `ids` is None); how many changed."""
    rows = Notification.objects.filter(recipient=user, channel=Channel.INBOX, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=now or timezone.now())
