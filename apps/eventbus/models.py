from django.db import models


class WebhookCursor(models.Model):
    """How far an outbound webhook channel fed from the event bus has delivered this tenant's
    events: the position of the last one its endpoint accepted. A message the bus delivers
    again (a consumer that died before its acknowledgement) is at or below it and is skipped,
    so each event is applied once per channel (apps/eventbus/webhooks.py)."""

    channel = models.CharField(max_length=60, primary_key=True)
    position = models.BigIntegerField(default=0)
    delivered_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "webhook cursor"

    def __str__(self) -> str:
        return f"{self.channel} @ {self.position}"
