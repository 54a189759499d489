"""No role is a Django superuser: owners and managers made before this were superusers.

Admin access comes from the role policy (`apps.clinic.policy`); the roles below are the ones
that policy let into the admin when this migration was written. A platform operator who
needs a superuser inside a tenant makes one with `createsuperuser` after migrating.
"""

from typing import Any

from django.db import migrations

ADMIN_ROLES = ["owner", "manager", "branch_manager"]


def drop_superuser(apps: Any, schema_editor: Any) -> None:
    user = apps.get_model("clinic", "User")
    user.objects.filter(is_superuser=True).update(is_superuser=False)
    user.objects.filter(role__in=ADMIN_ROLES).update(is_staff=True)
    user.objects.exclude(role__in=ADMIN_ROLES).update(is_staff=False)


class Migration(migrations.Migration):
    dependencies = [("clinic", "0003_stafftoken")]

    operations = [migrations.RunPython(drop_superuser, migrations.RunPython.noop)]
