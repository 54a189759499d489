"""Celery tasks of exports (thin)."""

from celery import shared_task

from apps.exports.commands import export_build


@shared_task(acks_late=True)
def build_export(export_id: int, key_version: int, sealed_passphrase: str) -> str:
    """Builds one export in the task's tenant schema (tenant-schemas-celery sets it)."""
    export = export_build(
        actor=None,
        export_id=export_id,
        key_version=key_version,
        sealed_passphrase=sealed_passphrase,
    )
    return str(export.status)
