"""What follows a change of a user row.

A deactivated user (``is_active`` off, e.g. in the admin) has their open websockets closed at once.
Their schedules stop firing without help from here: beat only dispatches schedules of active owners
(``scheduling.firing.schedules_dispatch_due``), and sockets re-check at every heartbeat, so a
bulk update that sends no signal is honoured too, only later.
"""

from __future__ import annotations

from django.db import transaction


def user_saved(sender, instance, created: bool = False, **kwargs) -> None:
    """``post_save`` of the user model: a user saved inactive loses their live sockets after commit."""
    if created or instance.is_active:
        return
    from jobs.realtime import end_user_sessions

    user_id = instance.pk
    transaction.on_commit(lambda: end_user_sessions(user_id))
