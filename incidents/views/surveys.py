"""The customer's satisfaction survey, reached without signing in."""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from portal.forms import error_codes

from .. import selectors, services, surveys
from ..forms import (
    SurveyForm,
)


@login_not_required
@require_http_methods(["GET", "POST"])
def survey_answer(request, token):
    """The customer's one-page survey, reached from the resolution e-mail."""
    read = surveys.read_survey_token(token)
    if read is None:
        return render(
            request, "incidents/survey_closed.html", {"reason": "bad_link"}, status=404
        )
    incident_id, customer_id = read
    subject = selectors.survey_subject(incident_id)
    # Every page is headed with the team the customer heard from.
    headed = {"support_team": subject["team"]} if subject else {}
    if request.method == "GET" and selectors.survey_answered(
        incident_id=incident_id, customer_id=customer_id
    ):
        # Opening the link again shows the answer was kept, not a blank form.
        return render(
            request, "incidents/survey_closed.html", {"reason": "answered", **headed}
        )
    form = SurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.answer_survey(token=token, answers=form.cleaned_data)
        except ValidationError as exc:
            codes = error_codes(exc)
            if "answered" in codes or "bad_link" in codes:
                reason = "answered" if "answered" in codes else "bad_link"
                return render(
                    request,
                    "incidents/survey_closed.html",
                    {"reason": reason, **headed},
                    status=409 if reason == "answered" else 404,
                )
            form.add_error(None, exc)
        else:
            return render(
                request, "incidents/survey_closed.html", {"reason": "thanks", **headed}
            )
    return render(
        request, "incidents/survey.html", {"form": form, "subject": subject, **headed}
    )
