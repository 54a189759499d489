"""A hospital-sized month of events, synthesized in SQL for the reconciliation benchmark.

The events have exactly the shape the commands write (see apps.scheduling and
apps.billing); writing 2.4 million appointments through the commands would take hours on
a 2-core machine (about 300 bookings/s), and the benchmark measures the month's report
and the warehouse load, not booking. Audit entries are not synthesized.
"""

from datetime import date

from apps.core.db import connection

# Per appointment g: a final status by g % 100 (80% completed, 8% no-show, 7% cancelled,
# 5% still booked); completed visits are invoiced and paid (cash/card/UPI by g % 3), and
# one in a thousand is partly refunded.
GENERATE = """
CREATE TEMP TABLE bench_visits ON COMMIT DROP AS
SELECT g AS id,
       (g %% %(doctors)s) + 1 AS doctor_id,
       (%(branches)s::bigint[])[((g %% %(doctors)s) %% cardinality(%(branches)s::bigint[])) + 1]
           AS branch_id,
       %(first)s::date + ((g / %(per_day)s) %% %(days)s)::int AS day,
       CASE WHEN g %% 100 < 80 THEN 'completed' WHEN g %% 100 < 88 THEN 'no_show'
            WHEN g %% 100 < 95 THEN 'cancelled' ELSE 'booked' END AS status,
       (ARRAY['cash', 'card', 'upi'])[(g %% 3) + 1] AS method
FROM generate_series(0, %(total)s - 1) AS g;

INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, occurred_at)
SELECT 'appointment-' || id, 1, 'AppointmentBooked', 1,
       jsonb_build_object('id', id, 'doctor_id', doctor_id, 'patient_id', id,
                          'branch_id', branch_id, 'date', day, 'status', 'booked',
                          'start', day + time '09:00', 'end', day + time '09:15',
                          'follow_up_of', NULL, 'fee', '500.00'),
       '{}'::jsonb, now()
FROM bench_visits ORDER BY id;

INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, occurred_at)
SELECT 'appointment-' || id, 2,
       CASE status WHEN 'completed' THEN 'AppointmentCompleted'
                   WHEN 'no_show' THEN 'AppointmentMarkedNoShow' ELSE 'AppointmentCancelled' END,
       1,
       jsonb_build_object('id', id, 'doctor_id', doctor_id, 'patient_id', id,
                          'branch_id', branch_id, 'date', day, 'status', status,
                          'start', day + time '09:00', 'end', day + time '09:15',
                          'follow_up_of', NULL, 'fee', '500.00'),
       '{}'::jsonb, now()
FROM bench_visits WHERE status <> 'booked' ORDER BY id;

INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, occurred_at)
SELECT 'invoice-' || id, 1, 'InvoiceIssued', 1,
       jsonb_build_object('id', id, 'appointment_id', id, 'branch_id', branch_id,
                          'total', '500.00', 'tax', '0.00', 'currency', 'INR'),
       '{}'::jsonb, now()
FROM bench_visits WHERE status = 'completed' ORDER BY id;

INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, occurred_at)
SELECT 'payment-' || id, 1, 'PaymentTaken', 1,
       jsonb_build_object('id', id, 'appointment_id', id, 'branch_id', branch_id,
                          'kind', 'balance', 'method', method, 'amount', '500.00',
                          'date', day, 'currency', 'INR'),
       '{}'::jsonb, now()
FROM bench_visits WHERE status = 'completed' ORDER BY id;

INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, occurred_at)
SELECT 'refund-' || id, 1, 'RefundIssued', 1,
       jsonb_build_object('id', id, 'payment_id', id, 'appointment_id', id,
                          'branch_id', branch_id, 'method', method, 'amount', '100.00',
                          'date', day, 'currency', 'INR'),
       '{}'::jsonb, now()
FROM bench_visits WHERE status = 'completed' AND id %% 1000 = 0 ORDER BY id;

INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, occurred_at)
SELECT 'declaration-' || b || '-' || d || '-' || m, 1, 'DeclarationMade', 1,
       jsonb_build_object('branch_id', b, 'date', %(first)s::date + d, 'method', m,
                          'amount', '1000.00', 'source', 'count'),
       '{}'::jsonb, now()
FROM unnest(%(branches)s) AS b, generate_series(0, %(days)s - 1) AS d,
     unnest(ARRAY['cash', 'card', 'upi']) AS m;

ANALYZE eventstore_event;
"""


def synthesize_month(
    first: date, branch_ids: list[int], *, doctors: int, per_doctor_per_day: int, days: int
) -> int:
    total = doctors * per_doctor_per_day * days
    with connection.cursor() as cursor:
        cursor.execute(
            GENERATE,
            {
                "first": first,
                "branches": branch_ids,
                "doctors": doctors,
                "days": days,
                "per_day": doctors * per_doctor_per_day,
                "total": total,
            },
        )
        cursor.execute("SELECT count(*) FROM eventstore_event")
        (events,) = cursor.fetchone()
    return int(events)
