"""Red team, the value check on save (issue 17 item 3; runtime/dynamic_check.py): each
step's literal value of a parameter with dynamic values made its own lookup call, so a
flow file of a few thousand identical steps made as many calls to the API (through the
saver's own connection) from one save, one ``flow check-values`` or one portal check,
the last two without any time budget. The same lookup (connection, operation,
parameter and the other literal values) is now made once per check, and at most
:data:`dynamic_check.MAX_LOOKUPS` distinct lookups are made; the rest is one warning."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
import test_dynamic_values  # noqa: E402

# test_dynamic_values's fixtures: pytest finds a fixture by the name it is bound to here.
settings, backend, connection = test_dynamic_values.settings, test_dynamic_values.backend, test_dynamic_values.connection
from test_flow_save_checks_values import flow_file, value_warnings  # noqa: E402
from test_runtime_backend import ENV  # noqa: E402

from connectorhub.runtime import dynamic_check  # noqa: E402


def test_identical_steps_make_one_lookup(admin, backend, connection):
    file = flow_file(admin, connection, **{f"s{i}": 8 for i in range(300)})
    calls = len(backend.received)
    created = admin.post(f"{ENV}/flows", json=file)
    assert created.status_code == 201, created.text
    assert len(backend.received) - calls == 1
    # Every step is still told about its value.
    assert len(value_warnings(created)) == 300


def test_distinct_lookups_stop_at_the_cap_with_a_warning(admin, backend, connection, monkeypatch):
    monkeypatch.setattr(dynamic_check, "MAX_LOOKUPS", 3)
    file = flow_file(admin, connection, **{f"s{i}": 8 for i in range(10)})
    for index, step in enumerate(file["steps"]):  # each lookup differs by another literal it is given
        step["parameters"]["plain"] = f"p{index}"
    calls = len(backend.received)
    created = admin.post(f"{ENV}/flows", json=file)
    assert created.status_code == 201, created.text
    assert len(backend.received) - calls <= 3
    assert value_warnings(created).get("steps") == "ValuesNotChecked"
    message = next(w["message"] for w in created.json()["warnings"] if w["location"] == "steps")
    assert "MAX_LOOKUPS" not in message and "3" in message
