"""Cells by configuration: a cell's local files stay in the cell's own folder."""

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import json; from django.conf import settings as s; print(json.dumps([s.MYMEDIC_CELL, "
    "s.MYMEDIC_WAREHOUSE_URL, s.MYMEDIC_NOTIFY_DIR, s.EMAIL_FILE_PATH, "
    "s.MYMEDIC_AUDIT_ANCHOR_DIR, s.MYMEDIC_BACKUP_DIR, s.MYMEDIC_DIRECTORY_SHARED]))"
)


def settings_of(**env: str) -> list[object]:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SHOW],
        cwd=ROOT,
        env=subprocess_env(MYMEDIC_LOCAL_DIR="/srv/local", **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_a_cell_keeps_its_warehouse_outbox_mail_anchors_and_backups_in_its_own_folder() -> None:
    cells = {
        name: {"region": region, "database_url": "postgres://x@127.0.0.1/a", "capacity": 1}
        for name, region in (("in-1", "in"), ("gcc-1", "gcc"))
    }

    shown = settings_of(
        MYMEDIC_CELL="gcc-1",
        MYMEDIC_CELLS_JSON=json.dumps(cells),
        MYMEDIC_DIRECTORY_DATABASE_URL="postgres://x@127.0.0.1/directory",
    )

    assert shown == [
        "gcc-1",
        "chdb:///srv/local/cells/gcc-1/warehouse",
        "/srv/local/cells/gcc-1/outbox",
        "/srv/local/cells/gcc-1/mail",
        "/srv/local/cells/gcc-1/audit-anchors",
        "/srv/local/cells/gcc-1/backups/tenants",
        False,
    ]


def test_the_default_cell_keeps_the_local_folder_and_shares_its_database_with_the_directory() -> (
    None
):
    shown = settings_of()

    assert shown[:3] == ["local", "chdb:///srv/local/warehouse", "/srv/local/outbox"]
    assert shown[-1] is True
