"""Red team, job cleanup (CONNECTORHUB_JOB_RETENTION_DAYS; assets/worker.py ``cleanup``):
the setting had a floor (a day: the duplicate check of deliveries reads recent jobs) but
no ceiling, so ``inf`` made the service fail to start with a traceback and millions of
days made every cleanup overflow the date arithmetic. It is now from 1 to
``MAX_JOB_RETENTION_DAYS``, refused in plain words otherwise. What cleanup deletes (only
done or failed jobs, never queued or running ones, runs keep their record) is tested in
tests/assets/test_triggers_infra.py."""

from __future__ import annotations

import datetime as dt

import pytest

from connectorhub.config import MAX_JOB_RETENTION_DAYS, Settings
from connectorhub.errors import InvalidRequest


@pytest.mark.parametrize("value", ["inf", "5000000", "nan", "-1"])
def test_a_retention_out_of_range_is_refused_in_words(monkeypatch, value):
    monkeypatch.setenv("CONNECTORHUB_JOB_RETENTION_DAYS", value)
    with pytest.raises(InvalidRequest, match=f"must be from 1 to {MAX_JOB_RETENTION_DAYS}"):
        Settings.from_env(database_url="sqlite://")


def test_the_longest_retention_still_works(monkeypatch):
    monkeypatch.setenv("CONNECTORHUB_JOB_RETENTION_DAYS", str(MAX_JOB_RETENTION_DAYS))
    settings = Settings.from_env(database_url="sqlite://")
    assert settings.job_retention_days == MAX_JOB_RETENTION_DAYS
    # The cleanup's cut-off is computable (the worker subtracts it from now).
    assert dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=settings.job_retention_days) > dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc)
