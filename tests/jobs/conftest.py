"""Job tests: the extra test handlers are registered here and, in workers, via ``JOB_HANDLER_MODULES``."""

from tests.jobs import handlers_for_tests  # noqa: F401  (registers test.* handlers in this process)

TEST_HANDLERS_ENV = {"JOB_HANDLER_MODULES": "tests.jobs.handlers_for_tests"}
