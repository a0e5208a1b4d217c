"""The public status page, its feeds and its JSON: no sign-in, cacheable."""

from django.contrib.auth.decorators import login_not_required
from django.contrib.syndication.views import Feed
from django.http import Http404


@login_not_required
def status_page(request, slug):
    raise Http404


@login_not_required
def status_json(request, slug):
    raise Http404


@login_not_required
def publication_detail(request, slug, pk):
    raise Http404


class RssFeed(Feed):
    login_required = False

    def __call__(self, request, *args, **kwargs):
        raise Http404


class AtomFeed(RssFeed):
    pass
