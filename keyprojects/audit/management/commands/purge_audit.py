"""Delete audit records older than the retention period (at least 180 days), keeping the chain verifiable."""

from django.core.management.base import BaseCommand

from keyprojects.audit import chain


class Command(BaseCommand):
    help = "清理超过保留期（不少于180天）的审计记录，并写入检查点以保持哈希链可校验。"

    def add_arguments(self, parser):
        minimum = chain.MIN_RETENTION_DAYS
        parser.add_argument("--days", type=int, help=f"保留天数（默认 AUDIT_RETENTION_DAYS，最少 {minimum}）")

    def handle(self, *args, days=None, **options):
        count = chain.purge(days=days)
        self.stdout.write(self.style.SUCCESS(f"已清理 {count} 条到期审计记录。"))
