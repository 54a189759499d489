"""`manage.py hl7_replay CHANNEL --tenant SLUG --from ISO --to ISO (--into-scratch | --resend-to
HOST:PORT)`: a channel's stored messages of a time range, replayed into a scratch schema and
compared with live (a report file and a summary), or sent again to another system over MLLP.
See docs/INTEGRATION.md, "Audit replay"."""

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django_tenants.utils import schema_context
from tqdm import tqdm

from apps.integration.models import Channel
from apps.integration.replay import messages_in_range, replay_check, resend
from apps.tenants.models import Tenant


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"Not an ISO 8601 date or time: {text}") from exc
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise CommandError("--resend-to is HOST:PORT")
    return host, int(port)


class Command(BaseCommand):
    help = "Replays a channel's stored HL7 messages into a scratch schema, or resends them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel", type=int, help="the channel's id")
        parser.add_argument("--tenant", required=True, metavar="SLUG")
        parser.add_argument("--from", dest="start", required=True, help="ISO 8601, inclusive")
        parser.add_argument("--to", dest="end", required=True, help="ISO 8601, exclusive")
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--into-scratch", action="store_true")
        what.add_argument("--resend-to", metavar="HOST:PORT")
        parser.add_argument("--report", help="report file (default hl7-replay-<channel>.json)")
        parser.add_argument("--retries", type=int, default=3)
        parser.add_argument("--timeout", type=float, default=10.0)
        parser.add_argument("--pause", type=float, default=1.0, help="first retry pause, s")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']}")
        start, end = _instant(options["start"]), _instant(options["end"])
        with schema_context(tenant.schema_name):
            channel = Channel.objects.filter(pk=options["channel"]).first()
            if channel is None:
                raise CommandError(f"No channel {options['channel']} in {tenant.slug}")
            total = sum(1 for _ in messages_in_range(channel, start, end))
            with tqdm(total=total, unit="msg", file=self.stderr) as bar:
                if options["into_scratch"]:
                    report = replay_check(
                        actor=None, channel=channel, start=start, end=end, progress=bar.update
                    )
                    target = Path(options["report"] or f"hl7-replay-{channel.pk}.json")
                    target.write_text(json.dumps(report.as_dict(), indent=2, default=str))
                    self.stdout.write(f"{report.summary()}\nreport: {target}")
                    return
                host, port = _address(options["resend_to"])
                outcome = resend(
                    actor=None, channel=channel, start=start, end=end, host=host, port=port,
                    retries=options["retries"], timeout=options["timeout"],
                    pause=options["pause"], progress=bar.update,
                )  # fmt: skip
        self.stdout.write(
            f"sent {outcome.sent} of {total} to {host}:{port}, {outcome.retries} retries, "
            f"ACKs {dict(sorted(outcome.codes.items()))}"
        )
        if outcome.stopped_at:
            raise CommandError(f"stopped at control id {outcome.stopped_at}: no ACK accepted it")
