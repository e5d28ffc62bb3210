"""An application, once nobody holds it, is freed with its engine, worker and scheduler.

FastAPI keeps every endpoint function in a process-wide cache; an endpoint written as a
closure over the application (or its engine) kept each one alive for good. In the test
suite that was one application per test — gigabytes by the end, and every garbage
collection slower (the suite took twice as long). Endpoints read ``request.app``."""

from __future__ import annotations

import gc
import weakref

from fastapi.testclient import TestClient

from connectorhub.serve import prepare


def test_an_application_nobody_holds_is_freed_with_its_engine(settings):
    def use_once() -> tuple[weakref.ref, weakref.ref]:
        application, _ = prepare(settings)
        with TestClient(application) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            assert client.get("/docs").status_code == 200
        application.state.engine.dispose()
        return weakref.ref(application), weakref.ref(application.state.engine)

    app_ref, engine_ref = use_once()
    gc.collect()
    assert app_ref() is None, "the application is still held: " + ", ".join(type(r).__name__ for r in gc.get_referrers(app_ref()))
    assert engine_ref() is None, "the engine is still held"
