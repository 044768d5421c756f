"""The README's webhook receiver works as printed, under make run's loopback allowance (issue 17)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from config.devstack import _free_port
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_receiver() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    (receiver,) = [b for b in blocks if "python3 receiver.py" in b]
    return receiver


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=False, ALLOW_LOOPBACK_TARGETS=True)
def test_readme_receiver_verifies_a_signed_test_ping(api, tmp_path):
    script = tmp_path / "receiver.py"
    script.write_text(readme_receiver())
    port = _free_port()
    created = api.post(
        "/webhooks", {"url": f"http://127.0.0.1:{port}/hooks/jobs", "eventType": "completed"}, format="json"
    )
    assert created.status_code == 201, created.json()
    hook = created.json()["webhook"]
    out = tmp_path / "out.txt"
    with out.open("w") as sink:
        proc = subprocess.Popen([sys.executable, str(script), hook["secret"], str(port)], stdout=sink)
    try:
        assert wait_until(
            lambda: api.post(f"/webhooks/{hook['id']}/test").json()["delivery"]["state"] == "succeeded",
            20,
            0.3,
        )
        assert wait_until(lambda: "verified" in out.read_text(), 10)
        first = out.read_text().splitlines()[0]
        assert first.startswith("verified {") and "'eventType': 'ping'" in first
        assert "BAD SIGNATURE" not in out.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
