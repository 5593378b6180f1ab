"""The audit trail: an append-only record of every change, by any path."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditRecordQuerySet(models.QuerySet):
    def delete(self):
        raise PermissionError("audit records are append-only; only the retention purge removes old ones")

    def update(self, **kwargs):
        raise PermissionError("audit records are append-only")


class AuditRecordManager(models.Manager.from_queryset(AuditRecordQuerySet)):
    def bulk_create(self, objs, *args, **kwargs):
        """Insert many records, chained in order (see `keyprojects.audit.chain`)."""
        from keyprojects.audit import chain

        objs = list(objs)
        with chain.locked(self.db):
            chain.link(objs, using=self.db)
            return super().bulk_create(objs, *args, **kwargs)


class AuditRecord(models.Model):
    """One change or security event: when, who (and their unit then), which request, which object,
    before and after.

    Rows are only ever inserted. `save()` refuses updates and `delete()` refuses deletion; on both
    databases triggers refuse UPDATE and DELETE (migrations 0003 and 0005; only the retention purge
    may delete, see `chain.purge`). Each record holds the hash of the previous one (`prev_hash`) and
    its own (`hash`), so `manage.py verify_audit` finds any record changed or removed behind the
    application's back.
    """

    class Action(models.TextChoices):
        CREATE = "create", _("新建")
        UPDATE = "update", _("修改")
        DELETE = "delete", _("删除")
        TRANSITION = "transition", _("阶段变更")
        OVERRIDE = "override", _("校验豁免")
        LOGIN = "login", _("登录")
        LOGOUT = "logout", _("退出")
        LOGIN_FAILED = "login_failed", _("登录失败")
        LOCKOUT = "lockout", _("账号锁定")
        DENIED = "denied", _("越权访问")
        EXPORT = "export", _("导出")
        DOWNLOAD = "download", _("下载")
        PURGE = "purge", _("到期清理")

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.DO_NOTHING, null=True, blank=True, db_constraint=False,
        related_name="+", verbose_name=_("操作人"),
    )  # fmt: skip
    actor_name = models.CharField(_("操作人"), max_length=150, blank=True)
    actor_unit = models.CharField(_("操作人单位"), max_length=100, blank=True)
    channel = models.CharField(_("途径"), max_length=16)
    request_id = models.CharField(_("请求编号"), max_length=64, blank=True)
    object_type = models.CharField(_("对象类型"), max_length=40)
    object_id = models.CharField(_("对象编号"), max_length=40)
    object_repr = models.CharField(_("对象"), max_length=200)
    project_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(_("操作"), max_length=16, choices=Action.choices)
    before = models.JSONField(_("修改前"), null=True, blank=True)
    after = models.JSONField(_("修改后"), null=True, blank=True)
    reason = models.CharField(_("理由"), max_length=200, blank=True)
    prev_hash = models.CharField(_("前一条哈希"), max_length=64, blank=True, editable=False)
    hash = models.CharField(_("哈希"), max_length=64, blank=True, editable=False)

    objects = AuditRecordManager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["project_id", "id"], name="audit_project_idx"),
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
        ]
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.get_action_display()} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit records are append-only")
        from keyprojects.audit import chain

        using = kwargs.get("using") or "default"
        with chain.locked(using):
            chain.link([self], using=using)
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit records are append-only")

    def changed_fields(self) -> list[tuple[str, object, object]]:
        before, after = self.before or {}, self.after or {}
        keys = list(dict.fromkeys([*before.keys(), *after.keys()]))
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


class AuditCheckpoint(models.Model):
    """Where the verifiable chain starts after a retention purge: the last purged record's id and hash.

    The purge deletes the oldest records (older than the retention period, at least 180 days) and
    writes one checkpoint in the same transaction; `verify_audit` starts from the latest checkpoint.
    """

    purged_through_id = models.BigIntegerField(_("清理至记录编号"))
    last_hash = models.CharField(_("最后一条哈希"), max_length=64)
    purged_count = models.IntegerField(_("清理条数"))
    cutoff = models.DateTimeField(_("清理截止时间"))
    created_at = models.DateTimeField(_("清理时间"), default=timezone.now)

    class Meta:
        ordering = ["-purged_through_id"]
        verbose_name = _("审计清理检查点")
        verbose_name_plural = _("审计清理检查点")

    def __str__(self) -> str:
        return f"≤{self.purged_through_id} ({self.purged_count})"


class AuditPurgePermit(models.Model):
    """A row exists only inside the purge's transaction: the DELETE trigger allows deletes then only."""

    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"purge permit {self.created_at:%Y-%m-%d %H:%M:%S}"
