from django.db import migrations

from apps.eventbus.relay import APPENDED_CHANNEL, NOTIFY_SETTING

# Every transaction that sends NOTIFY takes one lock for the whole database at its commit and
# holds it until the commit's WAL is flushed, so the commits of tenants that share nothing else
# queued on it. The append notifies only where the connection says a relay may listen: the
# settings turn NOTIFY_SETTING on for every connection when MYMEDIC_EVENT_BUS is set. Reading
# a setting costs the trigger about 5 µs; looking for the relay's connection in
# pg_stat_activity instead cost 300-400 µs per append (docs/PERFORMANCE.md).
FUNCTION = f"""
CREATE OR REPLACE FUNCTION public.mymedic_notify_events_appended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('{NOTIFY_SETTING}', true) = 'on' THEN
        PERFORM pg_notify('{APPENDED_CHANNEL}', TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END
$$;
"""

EVERY_APPEND = f"""
CREATE OR REPLACE FUNCTION public.mymedic_notify_events_appended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{APPENDED_CHANNEL}', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;
"""


class Migration(migrations.Migration):
    """The append's wake-up (0001, 0003) goes out only from connections configured for an
    event bus: without one no relay runs, and no commit need queue on NOTIFY's lock. A lost
    wake-up costs latency, never an event: the relay looks every 5 s anyway."""

    dependencies = [("eventbus", "0003_notify_on_partitioned_log")]

    operations = [migrations.RunSQL(FUNCTION, reverse_sql=EVERY_APPEND)]
