"""The API object: its routers, its errors, and its URLs.

portal/urls.py mounts ``api.urls`` at /api/v1/. Every URL under it is
token-authenticated JSON: exempt from the portal's sign-in redirect and from
CSRF (no cookie is read), and answering problems, never an HTML page, even
for a wrong method or an unknown path.
"""

import functools

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponseNotAllowed
from django.urls import URLPattern, re_path
from ninja import NinjaAPI

from . import problems
from .auth import read_token
from .parser import JsonObjectParser
from .ratelimit import TokenRateLimit
from .routers import customers, escalations, incidents, messages

DESCRIPTION = """\
Switchboard's incidents, messages, escalations, credits and customers, for
scripts and integrations. Every change goes through the same services, rules,
permissions and timeline as the pages.

Authenticate with `Authorization: Bearer sbt_…` (an admin issues tokens, read
or write, acting as a person or a service account). Errors are RFC 9457
problems (`application/problem+json`): 400 for a request that does not match
this schema, 422 for one the portal's rules refuse (with `errors` per field),
409 for a stale `version`. Lists are newest first: pass `next_cursor` back as
`cursor`; `limit` is 1 to 200 (default 50).
"""


class SwitchboardAPI(NinjaAPI):
    """A NinjaAPI whose every URL is the portal's kind of machine door."""

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(
            path_prefix=path_prefix, path_params=path_params
        )
        # Errors are problems: say so, as the answers' Content-Type does.
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, answer in operation.get("responses", {}).items():
                    content = answer.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content[problems.CONTENT_TYPE] = content.pop("application/json")
        return schema

    def _get_urls(self):
        urls = []
        for url in super()._get_urls():
            # ninja's root view only names the docs page, which is off.
            view = _no_such_path if url.name == "api-root" else url.callback
            urls.append(
                URLPattern(url.pattern, _door(view), url.default_args, url.name)
            )
        # Last: any other path under the API is a 404 problem, not a page.
        urls.append(re_path(r"^.*$", _door(_no_such_path)))
        return urls


def _no_such_path(request, *args, **kwargs):
    raise Http404("No such API path; the schema lists them: openapi.json.")


def _door(view):
    """Wrap a view so it needs no session and answers only problems."""

    @functools.wraps(view)
    def door(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404 as exc:
            return problems.problem(404, str(exc))
        except Exception as exc:  # answered as a logged 500, not a page
            return problems.server_error(request, exc)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = ", ".join(sorted(response["Allow"].split(", ")))
            return problems.problem(
                405, f"Use {allowed} here.", headers={"Allow": allowed}
            )
        return response

    door.csrf_exempt = True
    return login_not_required(door)


api = SwitchboardAPI(
    title="Switchboard API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api_v1",
    docs_url=None,  # Swagger UI loads from a CDN; the schema is served alone
    auth=read_token,
    throttle=TokenRateLimit(),
    parser=JsonObjectParser(),
)
problems.install(api)
for module in (incidents, messages, escalations, customers):
    api.add_router("", module.router)
