"""The API's routes are found once per path and process (apps/core/routes.py): every route of
the tenant's URL conf still reaches its own view, a kept match is the one Django's walk finds,
and a path that reaches no view is refused every time."""

import re
import uuid
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import (
    IntConverter,
    PathConverter,
    SlugConverter,
    StringConverter,
    UUIDConverter,
)
from django.urls.exceptions import Resolver404
from django.urls.resolvers import ResolverMatch, RoutePattern

from apps.core import routes
from apps.core.routes import RememberingResolver
from mymedic import urls_tenant
from tests.conftest import HostClient

TENANT_URLCONF = "mymedic.urls_tenant"

# A value each converter takes, as it appears in a path.
SAMPLES = {
    IntConverter: "7",
    StringConverter: "some-thing",
    SlugConverter: "some-slug",
    PathConverter: "some-path",
    UUIDConverter: str(uuid.UUID(int=7)),
}
_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _endpoints(
    patterns: list[URLPattern | URLResolver], prefix: str = "", converters: dict | None = None
) -> Iterator[tuple[str, URLPattern, dict]]:
    """(route, pattern, converters by parameter name) of every view the patterns reach, by
    route (`path()`); the FHIR API's `re_path` routes, which no route here moved past, are
    left out: a regular expression gives no sample path to ask for."""
    for pattern in patterns:
        if not isinstance(pattern.pattern, RoutePattern):
            continue
        route = prefix + str(pattern.pattern)
        known = {**(converters or {}), **pattern.pattern.converters}
        if isinstance(pattern, URLResolver):
            yield from _endpoints(pattern.url_patterns, route, known)
        else:
            yield route, pattern, known


def _sample(route: str, converters: dict) -> str:
    def value(parameter: re.Match[str]) -> str:
        return SAMPLES[type(converters[parameter["name"]])]

    return "/" + _PARAMETER.sub(value, route)


def _as_compared(match: ResolverMatch) -> tuple:
    return (
        match.func,
        match.args,
        match.kwargs,
        match.url_name,
        match.route,
        match.app_names,
        match.namespaces,
        [[str(p.pattern) for p in tried] for tried in match.tried],
    )


def _api() -> RememberingResolver:
    api = urls_tenant.urlpatterns[0]
    assert isinstance(api, RememberingResolver)
    return api


ROUTES = list(_endpoints(urls_tenant.urlpatterns))


def test_the_walk_covers_the_api_and_the_console() -> None:
    routes_seen = {route for route, _, _ in ROUTES}

    assert "api/v1/doctors/<int:pk>/day/" in routes_seen
    assert "api/v1/branches/<int:pk>/board/" in routes_seen
    assert "api/v1/settlements/exceptions/<int:pk>/resolve/" in routes_seen
    assert "reception/settlements/" in routes_seen
    assert len(ROUTES) > 150


@pytest.mark.parametrize(("route", "pattern", "converters"), ROUTES, ids=[r for r, _, _ in ROUTES])
def test_every_route_reaches_its_own_view_first_asked_and_kept(
    route: str, pattern: URLPattern, converters: dict
) -> None:
    path = _sample(route, converters)
    resolver = get_resolver(TENANT_URLCONF)

    for _ in range(2):  # found, then (under /api/v1/) handed back from what was kept
        match = resolver.resolve(path)
        assert (match.func, match.route) == (pattern.callback, route), path
        assert match.kwargs == {
            **{name: c.to_python(SAMPLES[type(c)]) for name, c in converters.items()},
            **pattern.default_args,
        }


@pytest.mark.parametrize(("route", "pattern", "converters"), ROUTES, ids=[r for r, _, _ in ROUTES])
def test_a_kept_match_is_the_one_djangos_walk_finds(
    route: str, pattern: URLPattern, converters: dict
) -> None:
    path = _sample(route, converters).removeprefix("/")
    api = _api()
    try:
        walked = URLResolver.resolve(api, path)
    except Resolver404:  # a console page, or a settlements route (outside the API's list)
        for _ in range(2):
            with pytest.raises(Resolver404):
                api.resolve(path)
        return

    assert _as_compared(api.resolve(path)) == _as_compared(walked)
    assert api.resolve(path) is api.resolve(path)  # kept


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/doctors/abc/day/", 404),  # the converter refuses it
        ("/api/v1/doctors/7/night/", 404),
        ("/api/v1/", 404),
        ("/api/v2/doctors/7/day/", 404),
        ("/nothing-here/", 404),
        ("/api/v1/doctors/7/day", 301),  # to the path with its slash (APPEND_SLASH)
    ],
)
def test_a_path_that_reaches_no_view_is_refused_every_time(
    api: HostClient, path: str, status: int
) -> None:
    resolver = get_resolver(TENANT_URLCONF)

    for _ in range(2):
        with pytest.raises(Resolver404):
            resolver.resolve(path)
        response = api.get(path)
        assert response.status_code == status
        if status == 404 and path.startswith("/api/"):
            assert response["Content-Type"] == "application/json"
    assert path.removeprefix("/") not in _api()._matches


def test_the_kept_matches_are_bounded_and_the_oldest_goes_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(routes, "PATHS_KEPT", 3)
    api = RememberingResolver("api/v1/", urls_tenant.api_urlpatterns)
    paths = [f"api/v1/doctors/{n}/day/" for n in range(5)]

    for path in paths:
        assert api.resolve(path).kwargs == {"pk": int(path.split("/")[3])}

    assert list(api._matches) == paths[2:]
