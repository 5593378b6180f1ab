"""Verify the audit trail's hash chain; exit status 1 at the first broken link."""

from django.core.management.base import BaseCommand, CommandError

from keyprojects.audit import chain


class Command(BaseCommand):
    help = "校验审计记录哈希链，报告第一处断链。"

    def handle(self, *args, **options):
        result = chain.verify()
        if not result.ok:
            raise CommandError(
                f"审计链在记录 {result.first_broken_id} 处断开：{result.problem}（此前 {result.checked} 条完好）。"
            )
        self.stdout.write(self.style.SUCCESS(f"审计链完整：共校验 {result.checked} 条记录。"))
