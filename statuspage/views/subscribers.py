"""Subscribing by e-mail: double opt-in, one-click unsubscribe."""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404


@login_not_required
def subscribe(request, slug):
    raise Http404


@login_not_required
def confirm(request, slug, token):
    raise Http404


@login_not_required
def unsubscribe(request, slug, token):
    raise Http404
