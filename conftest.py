"""Root pytest configuration: settings for the test run before Django starts."""

import os

os.environ.setdefault("TESTING", "1")
