"""manage.py restore FILE: into an empty database only; checks counts and the audit chain afterwards."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from keyprojects.audit import chain
from keyprojects.security import backup


class Command(BaseCommand):
    help = "从备份文件恢复数据库和上传文件（只能恢复到空数据库）。"

    def add_arguments(self, parser):
        parser.add_argument("archive", help="backup 命令生成的 .tar.gz 文件")

    def handle(self, *args, archive, **options):
        try:
            manifest = backup.restore(Path(archive))
        except (backup.BackupError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        verification = chain.verify()
        if not verification.ok:
            raise CommandError(f"恢复完成，但审计链在记录 {verification.first_broken_id} 处断开。")
        self.stdout.write(
            self.style.SUCCESS(f"已恢复 {manifest['created_at']} 的备份：{manifest['counts']}，审计链完整。")
        )
