"""Who reads and who makes the rhythm's documents (the one access gate for bulletins).

- 调度员 (the service center) and 领导 create drafts, edit their commentary, issue them, and see drafts.
- 责任单位经办人 read the issued documents (the district's bulletins are sent to every unit).
- Everyone else (首席服务员, 企业填报员, 三员) has no access: 403.
A draft is invisible to readers (404), like an object outside one's scope.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from keyprojects.bulletins.models import Bulletin, Status
from keyprojects.org.models import Role, User

MANAGER_ROLES = (Role.DISPATCHER, Role.LEADER)
READER_ROLES = (*MANAGER_ROLES, Role.UNIT_OFFICER)
NOT_FOUND = "通报文件不存在或无权查看。"


def can_read(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.has_role(*READER_ROLES))


def can_manage(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.has_role(*MANAGER_ROLES))


def ensure_reader(user: User) -> None:
    if not can_read(user):
        raise PermissionDenied(_("您的账号无权查看通报文件。"))


def ensure_manager(user: User) -> None:
    if not can_manage(user):
        raise PermissionDenied(_("只有调度员和领导可以生成、修改和印发通报文件。"))


def visible_bulletins(user: User) -> QuerySet[Bulletin]:
    """Every bulletin the user may read: all for managers, the issued ones for readers, none otherwise."""
    if can_manage(user):
        return Bulletin.objects.all()
    if can_read(user):
        return Bulletin.objects.filter(status=Status.ISSUED)
    return Bulletin.objects.none()


def get_bulletin(user: User, pk: int | str, *, write: bool = False) -> Bulletin:
    """One bulletin through the gate: 403 without any access, 404 when not visible, 403 to write without the role."""
    ensure_reader(user)
    try:
        bulletin = visible_bulletins(user).get(pk=int(pk))
    except (Bulletin.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404(NOT_FOUND) from None
    if write:
        ensure_manager(user)
    return bulletin
