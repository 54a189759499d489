"""ASGI entry point (served by daphne). Channels routes the protocols."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mymedic.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402  (needs Django set up first)

from mymedic.bodylimit import BodyLimitMiddleware  # noqa: E402
from mymedic.daphne_contract import keep_the_contract  # noqa: E402

keep_the_contract()
application = BodyLimitMiddleware(ProtocolTypeRouter({"http": django_asgi_app}))
