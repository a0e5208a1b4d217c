"""Which timeline row a bookkeeping row is folded into (incidents/timeline.py)."""

import datetime as dt

from incidents.models import TimelineEvent
from incidents.timeline import timeline_view

K = TimelineEvent.Kind
AT = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


def row(kind, seconds, actor_id=None, **details):
    return TimelineEvent(
        kind=kind,
        created_at=AT + dt.timedelta(seconds=seconds),
        actor_id=actor_id,
        details=details,
    )


def test_the_portals_retiming_folds_into_the_persons_act_that_caused_it():
    escalated = row(K.ESCALATION_REQUESTED, 0, actor_id=7, escalation=1)
    sent = row(K.MESSAGE_SENT, 1, message=3)
    retimed = row(K.FOLLOW_UP_LOOP_CHANGED, 1, change="retimed")

    view = timeline_view([escalated, sent, retimed], "")

    assert escalated.folded == [retimed] and sent.folded == []
    assert retimed not in view


def test_a_loop_started_folds_only_into_the_incidents_opening():
    opened = row(K.OPENED, 0, actor_id=7)
    sent = row(K.MESSAGE_SENT, 0, message=3)
    started = row(K.FOLLOW_UP_LOOP_CHANGED, 1, change="opened")
    late_start = row(K.FOLLOW_UP_LOOP_CHANGED, 600, change="opened")
    later_sent = row(K.MESSAGE_SENT, 600, message=4)

    view = timeline_view([opened, sent, started, later_sent, late_start], "")

    assert opened.folded == [started]
    assert sent.folded == [] and later_sent.folded == []
    assert late_start not in view


def test_bookkeeping_with_no_cause_stays_out_but_shows_with_bookkeeping():
    lonely = row(K.COMMUNICATION_PLAN_CHANGED, 0)

    assert timeline_view([lonely], "") == []
    assert timeline_view([lonely], "all") == [lonely]
    assert lonely.folded == []


def test_the_portals_retiming_is_not_folded_into_a_persons_later_act():
    retimed = row(K.FOLLOW_UP_LOOP_CHANGED, 0, change="retimed")
    edited = row(K.EDITED, 4, actor_id=7)

    assert timeline_view([retimed, edited], "") == [edited]
    assert edited.folded == []
