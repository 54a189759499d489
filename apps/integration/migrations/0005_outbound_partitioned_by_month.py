from typing import Any

import django.utils.timezone
from django.db import migrations, models

from apps.core.partitions import HL7_OUTBOUND, Conversion, convert

# One row per (channel, position) ever made: PostgreSQL allows a unique index on a
# partitioned table only with the partition key in it, and (channel, position) does not
# contain `created`. So each insert claims its pair here, in the same transaction, and is
# refused as the unique constraint `hl7_outbound_position` was when the pair is taken: two
# inserts of one pair wait for each other and the second fails, in whichever month either
# lands. A deleted message (`hl7_purge`) or an archived month releases its pair, as deleting
# the row released the old unique index's entry (positions only grow: a released pair is
# never asked for again by the outbox).
CLAIMS = """
CREATE TABLE IF NOT EXISTS integration_outboundposition (
    channel_id bigint NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (channel_id, position)
);
CREATE OR REPLACE FUNCTION public.mymedic_hl7_outbound_claim() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    claimed integer;
BEGIN
    EXECUTE format(
        'INSERT INTO %I.integration_outboundposition (channel_id, position) VALUES ($1, $2) '
        'ON CONFLICT DO NOTHING',
        TG_TABLE_SCHEMA
    ) USING NEW.channel_id, NEW.position;
    GET DIAGNOSTICS claimed = ROW_COUNT;
    IF claimed = 0 THEN
        RAISE EXCEPTION 'duplicate key value violates unique constraint "hl7_outbound_position"'
            USING ERRCODE = 'unique_violation',
                  DETAIL = format('Channel %s already has a message for position %s.',
                                  NEW.channel_id, NEW.position);
    END IF;
    RETURN NEW;
END
$$;
CREATE OR REPLACE FUNCTION public.mymedic_hl7_outbound_release() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'DELETE FROM %I.integration_outboundposition WHERE channel_id = $1 AND position = $2',
        TG_TABLE_SCHEMA
    ) USING OLD.channel_id, OLD.position;
    RETURN OLD;
END
$$;
"""

FILL_CLAIMS = """
INSERT INTO integration_outboundposition (channel_id, position)
SELECT channel_id, position FROM integration_outboundmessage {where}
ON CONFLICT DO NOTHING
"""


def partition(apps: Any, schema_editor: Any) -> Conversion:
    with schema_editor.connection.cursor() as cursor:
        # `mymedic_refuse_fixed_change` (the fixed columns' trigger) is made by 0004.
        cursor.execute(CLAIMS)
        # Filled while messages go on being made; the swap adds what was made meanwhile (the
        # old table's unique index still refuses duplicates until then).
        cursor.execute("SELECT coalesce(max(id), 0) FROM integration_outboundmessage")
        (filled_to,) = cursor.fetchone()
        cursor.execute(FILL_CLAIMS.format(where=""))

    def catch_up_claims(cursor: Any) -> None:
        cursor.execute(FILL_CLAIMS.format(where="WHERE id > %s"), [filled_to])

    return convert(HL7_OUTBOUND, in_swap=catch_up_claims)


class Migration(migrations.Migration):
    """The outbound SIU store becomes RANGE-partitioned by the month a message was made
    (apps/core/partitions.py), online as 0004 did for the inbound store: no copy, a locked
    swap of a fraction of a second. Its (channel, position) uniqueness moves to
    `integration_outboundposition`; the database keeps an index of that name on the parent.
    `updated` comes first: one default for the rows already there (a constant, so PostgreSQL
    does not rewrite the table), the archive's check that nothing changed under its export."""

    atomic = False
    dependencies = [
        ("integration", "0004_message_store_partitioned_by_month"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboundmessage",
            name="updated",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(partition, migrations.RunPython.noop, elidable=False),
            ],
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="outboundmessage", name="hl7_outbound_position"
                ),
                migrations.AddIndex(
                    model_name="outboundmessage",
                    index=models.Index(
                        fields=["channel", "position"], name="hl7_outbound_position"
                    ),
                ),
            ],
        ),
    ]
