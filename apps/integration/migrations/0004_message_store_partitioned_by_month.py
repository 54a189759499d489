from typing import Any

from django.db import migrations, models

from apps.core.partitions import HL7_MESSAGES, Conversion, convert

# One row per (channel, control id) ever stored: PostgreSQL allows a unique index on a
# partitioned table only with the partition key in it, and (channel, control_id) does not
# contain `received_at`. So each insert claims its control id here, in the same transaction,
# and is refused as the unique constraint `hl7_message_control` was when the id is taken:
# two inserts of one id wait for each other and the second fails, in whichever month either
# lands. A deleted message (`hl7_purge`) or an archived month releases its ids, as deleting
# the row released the old unique index's entry.
CONTROL = """
CREATE TABLE IF NOT EXISTS integration_messagecontrol (
    channel_id bigint NOT NULL,
    control_id varchar(199) NOT NULL,
    PRIMARY KEY (channel_id, control_id)
);
CREATE OR REPLACE FUNCTION public.mymedic_hl7_message_control() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    claimed integer;
BEGIN
    EXECUTE format(
        'INSERT INTO %I.integration_messagecontrol (channel_id, control_id) VALUES ($1, $2) '
        'ON CONFLICT DO NOTHING',
        TG_TABLE_SCHEMA
    ) USING NEW.channel_id, NEW.control_id;
    GET DIAGNOSTICS claimed = ROW_COUNT;
    IF claimed = 0 THEN
        RAISE EXCEPTION 'duplicate key value violates unique constraint "hl7_message_control"'
            USING ERRCODE = 'unique_violation',
                  DETAIL = format('Channel %s already has a message with this control id.',
                                  NEW.channel_id);
    END IF;
    RETURN NEW;
END
$$;
CREATE OR REPLACE FUNCTION public.mymedic_hl7_message_release() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'DELETE FROM %I.integration_messagecontrol WHERE channel_id = $1 AND control_id = $2',
        TG_TABLE_SCHEMA
    ) USING OLD.channel_id, OLD.control_id;
    RETURN OLD;
END
$$;
CREATE OR REPLACE FUNCTION public.mymedic_refuse_fixed_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    column_name text;
BEGIN
    FOREACH column_name IN ARRAY TG_ARGV LOOP
        IF to_jsonb(NEW) -> column_name IS DISTINCT FROM to_jsonb(OLD) -> column_name THEN
            RAISE EXCEPTION '%.% never changes', TG_TABLE_NAME, column_name
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;
"""

FILL_CONTROL = """
INSERT INTO integration_messagecontrol (channel_id, control_id)
SELECT channel_id, control_id FROM integration_message {where}
ON CONFLICT DO NOTHING
"""


def partition(apps: Any, schema_editor: Any) -> Conversion:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CONTROL)
        # Filled while messages go on arriving; the swap adds what arrived meanwhile (the old
        # table's unique index still refuses duplicates until then).
        cursor.execute("SELECT coalesce(max(id), 0) FROM integration_message")
        (filled_to,) = cursor.fetchone()
        cursor.execute(FILL_CONTROL.format(where=""))

    def catch_up_control(cursor: Any) -> None:
        cursor.execute(FILL_CONTROL.format(where="WHERE id > %s"), [filled_to])

    return convert(HL7_MESSAGES, in_swap=catch_up_control)


class Migration(migrations.Migration):
    """The inbound HL7 message store becomes RANGE-partitioned by the month it was received
    (apps/core/partitions.py), online for a tenant whose store has rows: no copy, a locked
    swap of a fraction of a second. Its (channel, control_id) uniqueness moves to
    `integration_messagecontrol`; the database keeps an index of that name on the parent."""

    atomic = False
    dependencies = [
        ("integration", "0003_application_acks"),
        ("eventstore", "0006_partitioned_by_month"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(partition, migrations.RunPython.noop, elidable=False),
            ],
            state_operations=[
                migrations.RemoveConstraint(model_name="message", name="hl7_message_control"),
                migrations.AddIndex(
                    model_name="message",
                    index=models.Index(
                        fields=["channel", "control_id"], name="hl7_message_control"
                    ),
                ),
            ],
        ),
    ]
