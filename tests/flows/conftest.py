"""Flow tests: the test handlers are registered here and, in workers, via ``JOB_HANDLER_MODULES``."""

from tests.flows import handlers_for_tests  # noqa: F401  (registers the test handlers in this process)
from tests.live.conftest import browser_page, live_socket  # noqa: F401  (Chromium page, /ws/jobs/ sockets)

FLOW_HANDLERS_ENV = {"JOB_HANDLER_MODULES": "tests.flows.handlers_for_tests"}


def leaf(value, **fields) -> dict:
    """A ``test.value`` node returning ``value``; ``fields`` adds keys (``opts``, ``queueName``, ...)."""
    return {"name": "test.value", "data": {"value": value}, **fields}


def node(name: str, *children: dict, **fields) -> dict:
    """A node running handler ``name`` with ``children`` (``fields``: ``data``, ``opts``, ...)."""
    return {"name": name, **fields, **({"children": list(children)} if children else {})}
