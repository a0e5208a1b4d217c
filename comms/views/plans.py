"""Starting a communication plan: the one page action that needs comms data.

The plan's own pages are in incidents; starting it gathers what comms knows
(comms.plans) and hands it to the incidents service.
"""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from incidents import services as incident_services
from incidents.models import Incident
from portal.actions import post_action

from .. import plans


@require_POST
@permission_required("incidents.add_communicationplan", raise_exception=True)
def communication_plan_start(request, pk):
    incident = get_object_or_404(
        Incident.objects.select_related("customer", "owner", "category"), pk=pk
    )
    return post_action(
        request,
        act=lambda: incident_services.start_communication_plan(
            incident=incident,
            actor=request.user,
            prefill=plans.plan_prefill(incident),
        ),
        success="Communication plan started from what the portal knows.",
        back=reverse("incidents:plan", args=[pk]),
    )
