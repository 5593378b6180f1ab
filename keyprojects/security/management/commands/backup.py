"""manage.py backup [--output FILE]: database and uploaded files in one archive (see security.backup)."""

import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from keyprojects.security import backup


class Command(BaseCommand):
    help = "备份数据库和上传文件（SQLite 在线备份；PostgreSQL 使用 pg_dump）。"

    def add_arguments(self, parser):
        parser.add_argument("--output", help="备份文件路径（默认 var/backups/keyprojects-时间.tar.gz）")

    def handle(self, *args, output=None, **options):
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path(output or Path(settings.BASE_DIR) / "var" / "backups" / f"keyprojects-{stamp}.tar.gz")
        try:
            manifest = backup.backup(path)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"已备份到 {path}：{manifest['counts']}"))
