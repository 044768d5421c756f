"""The webhooks app's services, one module per concern; this module gathers their public names for
interfaces (API views, pages, admin, tasks, ``jobs.realtime``) that want one import.

* ``webhooks.subscriptions``: create, change and delete webhooks (and the legacy ``webhookUrl``).
* ``webhooks.active``: which webhooks of an owner are active (a per-process cache kept fresh over
  Redis pub/sub; its listener thread starts in ``WebhooksConfig.ready``).
* ``webhooks.fanout``: a job event becomes deliveries (``progress``/``delta`` coalesced per window).
* ``webhooks.delivery``: attempts, outcomes, retries, and the owner's redeliver and test ping.
* ``webhooks.maintenance``: beat's sweeps (due retries, pruning).
"""

from __future__ import annotations

from .active import (
    CHANGED_CHANNEL,
    _ActiveWebhooks,  # noqa: F401  (tests read the cache's state)
    _invalidate,  # noqa: F401  (tests empty the cache between tests)
    active_webhooks,
    matching_webhooks,
    start_change_listener,
    webhooks_changed,
)
from .delivery import (
    PING,
    AttemptOutcome,
    DeliveryStateError,
    _count_failure,  # noqa: F401  (tests disable a webhook the way a failed delivery does)
    delivery_attempt,
    delivery_redeliver,
    delivery_send,
    webhook_test,
)
from .fanout import (
    COALESCED_EVENTS,
    TERMINAL_EVENTS,
    coalesced_flush,
    event_payload,
    job_event_fan_out,
    webhook_fan_out,
)
from .maintenance import deliveries_prune, deliveries_send_due
from .subscriptions import (
    DESCRIPTION_MAX_LENGTH,
    LEGACY_DESCRIPTION,
    URL_MAX_LENGTH,
    WebhookExists,
    validate_webhook_input,
    webhook_create,
    webhook_delete,
    webhook_rotate_secret,
    webhook_set_legacy_url,
    webhook_update,
)

__all__ = [
    "CHANGED_CHANNEL",
    "COALESCED_EVENTS",
    "DESCRIPTION_MAX_LENGTH",
    "LEGACY_DESCRIPTION",
    "PING",
    "TERMINAL_EVENTS",
    "URL_MAX_LENGTH",
    "AttemptOutcome",
    "DeliveryStateError",
    "WebhookExists",
    "active_webhooks",
    "coalesced_flush",
    "deliveries_prune",
    "deliveries_send_due",
    "delivery_attempt",
    "delivery_redeliver",
    "delivery_send",
    "event_payload",
    "job_event_fan_out",
    "matching_webhooks",
    "start_change_listener",
    "validate_webhook_input",
    "webhook_create",
    "webhook_delete",
    "webhook_fan_out",
    "webhook_rotate_secret",
    "webhook_set_legacy_url",
    "webhook_test",
    "webhook_update",
    "webhooks_changed",
]
