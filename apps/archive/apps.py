from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "apps.archive"
    verbose_name = "Log archive and retention"
