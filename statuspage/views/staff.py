"""Publishing an incident on a status page, from the incident's page."""

from django.http import Http404


def publish(request, pk):
    raise Http404
