from typing import Any

from django.db import migrations

from apps.core.partitions import EVENT_LOG, Conversion, convert

# The newest version of each stream. PostgreSQL allows a unique index on a partitioned table
# only with the partition key in it, and (stream, version) does not contain `occurred_at`; so
# each insert moves its stream's head forward in this small plain table, in the same
# transaction, and is refused when the stream is already at or past its version. The head row
# is locked until commit, so two appends of one version wait for each other and the second
# fails, in whichever month either lands (and after old months are archived).
STREAM_HEADS = """
CREATE TABLE IF NOT EXISTS eventstore_streamhead (
    stream varchar(80) PRIMARY KEY,
    version integer NOT NULL
);
CREATE OR REPLACE FUNCTION public.mymedic_event_stream_head() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    moved integer;
BEGIN
    EXECUTE format(
        'INSERT INTO %I.eventstore_streamhead AS head (stream, version) VALUES ($1, $2) '
        'ON CONFLICT (stream) DO UPDATE SET version = EXCLUDED.version '
        'WHERE head.version < EXCLUDED.version',
        TG_TABLE_SCHEMA
    ) USING NEW.stream, NEW.version;
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved = 0 THEN
        RAISE EXCEPTION 'duplicate key value violates unique constraint "event_stream_version"'
            USING ERRCODE = 'unique_violation',
                  DETAIL = format('Stream %s is already at version %s or later.',
                                  NEW.stream, NEW.version);
    END IF;
    RETURN NEW;
END
$$;
"""

FILL_HEADS = """
INSERT INTO eventstore_streamhead (stream, version)
SELECT stream, max(version) FROM eventstore_event {where} GROUP BY stream
ON CONFLICT (stream) DO UPDATE SET version = GREATEST(eventstore_streamhead.version,
                                                      EXCLUDED.version)
"""


def partition(apps: Any, schema_editor: Any) -> Conversion:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(STREAM_HEADS)
        # Filled while appends go on; the swap adds what was appended meanwhile.
        cursor.execute("SELECT coalesce(max(position), 0) FROM eventstore_event")
        (filled_to,) = cursor.fetchone()
        cursor.execute(FILL_HEADS.format(where=""))

    def catch_up_heads(cursor: Any) -> None:
        cursor.execute(FILL_HEADS.format(where="WHERE position > %s"), [filled_to])

    return convert(EVENT_LOG, in_swap=catch_up_heads)


class Migration(migrations.Migration):
    """The event log becomes RANGE-partitioned by month (apps/core/partitions.py), online for
    a tenant whose log has rows: no copy, a locked swap of a fraction of a second."""

    atomic = False
    dependencies = [("eventstore", "0005_note_events_head")]

    operations = [
        migrations.RunPython(partition, migrations.RunPython.noop, elidable=False),
    ]
