"""Connector triggers of flows (issue 17 items 1 and 2; DESIGN F1, K2, K3).

A flow whose file starts with ``"trigger": {"type": "connector", "slot", "operation",
"parameters"}`` names an operation marked ``x-ms-trigger`` of the slot's connector.

- **Webhook** (the operation has a parameter, or a body property, marked
  ``x-ms-notification-url``): saving the flow records a subscription and queues a
  ``subscribe`` job; the worker (:mod:`.worker`) calls the operation with a callback URL
  under the public URL, unguessable and one per subscription, and keeps the ``Location``
  the API answers. Only the SHA-256 of the URL's secret part is stored. A POST to the
  callback (:func:`accept_callback`) queues a run in the same transaction that the 202
  is answered after. Deleting the flow, or changing its trigger, queues an
  ``unsubscribe`` job (DELETE to that Location). A subscription the API says expires is
  subscribed again before it does (:func:`claim_due`).
- **Polling** (no notification URL): the flow is polled every ``interval`` (default
  :data:`DEFAULT_POLL_SECONDS`); each due time is claimed by compare-and-set and becomes a
  ``poll`` job, so with several ``serve`` processes each poll, and each new item, runs
  once.

This module reads definitions and writes rows; the calls are the worker's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectorhub.assets import queue, schemas, trigger_content
from connectorhub.assets.models import (
    JOB_POLL,
    JOB_RUN,
    JOB_SUBSCRIBE,
    JOB_UNSUBSCRIBE,
    SUB_ACTIVE,
    SUB_PENDING,
    SUB_POLLING,
    SUB_SUBSCRIBED,
    SUB_WEBHOOK,
    Asset,
    AssetSlot,
    TriggerSubscription,
)
from connectorhub.connectors.models import Connector
from connectorhub.db import utcnow
from connectorhub.errors import MalformedRequest, NotFound

DEFAULT_POLL_SECONDS = 180
CALLBACK_PREFIX = "/callbacks/"
# The longest validationToken a callback URL echoes (Graph's are about 200 characters).
MAX_VALIDATION_TOKEN = 1024
# A subscription that expires is renewed this long before it does (or at half its life).
RENEW_BEFORE = dt.timedelta(minutes=10)
_METHODS = ("get", "put", "post", "delete", "patch")
# Headers of a delivery that are credentials or hop details: not kept in the run (K2).
DROPPED_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "host", "content-length", "connection",
    "x-forwarded-for", "forwarded",
})


@dataclass(frozen=True)
class TriggerOperation:
    """What a flow needs to know of a trigger operation."""

    operation_id: str
    mode: str  # single | batch (the value of x-ms-trigger)
    webhook: bool
    # Where the callback URL goes: ("parameter", name) or ("body", (property, …)).
    notification: tuple[str, Any] | None
    parameters: dict[str, dict[str, Any]]
    # What the API sends to the callback (x-ms-notification-content), when declared.
    content: trigger_content.NotificationContent | None = None


def _resolve(document: dict[str, Any], value: Any, depth: int = 0) -> Any:
    while isinstance(value, dict) and isinstance(value.get("$ref"), str) and value["$ref"].startswith("#/") and depth < 20:
        target: Any = document
        for part in value["$ref"][2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, dict) else None
        value, depth = target, depth + 1
    return value


def _notification_path(document: dict[str, Any], schema: Any, depth: int = 0) -> tuple[str, ...] | None:
    schema = _resolve(document, schema)
    if not isinstance(schema, dict) or depth > 8:
        return None
    for name, prop in (schema.get("properties") or {}).items():
        resolved = _resolve(document, prop)
        if isinstance(resolved, dict) and resolved.get("x-ms-notification-url") in (True, "true"):
            return (name,)
        inner = _notification_path(document, resolved, depth + 1)
        if inner is not None:
            return (name, *inner)
    return None


def trigger_operations(connector: Connector) -> dict[str, TriggerOperation]:
    """The connector's operations marked ``x-ms-trigger``, by operationId."""
    return trigger_operations_in(connector.definition())


def trigger_operations_in(document: dict[str, Any]) -> dict[str, TriggerOperation]:
    """The operations of a definition marked ``x-ms-trigger``, by operationId."""
    out: dict[str, TriggerOperation] = {}
    for item in (document.get("paths") or {}).values():
        if not isinstance(item, dict):
            continue
        common = item.get("parameters") or []
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict) or not isinstance(operation.get("operationId"), str):
                continue
            mode = operation.get("x-ms-trigger")
            if mode is None:
                continue
            notification: tuple[str, Any] | None = None
            parameters: dict[str, dict[str, Any]] = {}
            for raw in [*common, *(operation.get("parameters") or [])]:
                parameter = _resolve(document, raw)
                if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
                    continue
                parameters[parameter["name"]] = parameter
                if parameter.get("x-ms-notification-url") in (True, "true"):
                    notification = ("parameter", parameter["name"])
                elif parameter.get("in") == "body" and notification is None:
                    path = _notification_path(document, parameter.get("schema"))
                    if path is not None:
                        notification = ("body", path)
            out[operation["operationId"]] = TriggerOperation(
                operation["operationId"], "batch" if str(mode).lower() == "batch" else "single", notification is not None,
                notification, parameters, trigger_content.read(document, item, operation, _resolve),
            )
    return out


def check(spec: schemas.FlowFile, slot_connectors: dict[str, Connector | None]) -> list[dict[str, str]]:
    """F1: a connector trigger names a slot of the file and a trigger operation of its
    connector, and only parameters that operation has (every problem, with where)."""
    trigger = spec.trigger
    if not isinstance(trigger, schemas.ConnectorTrigger):
        return []
    problems: list[dict[str, str]] = []
    if trigger.slot not in spec.connections:
        listed = ", ".join(sorted(spec.connections)) or "none"
        return [{"location": "trigger.slot", "message": f"No slot '{trigger.slot}' in connections (slots: {listed})."}]
    connector = slot_connectors.get(trigger.slot)
    if connector is None:
        return []
    operations = trigger_operations(connector)
    found = operations.get(trigger.operation)
    if found is None:
        listed = ", ".join(sorted(operations)) or "none"
        return [{"location": "trigger.operation", "message": f"Connector '{connector.title}' has no trigger operation '{trigger.operation}' (trigger operations: {listed})."}]
    for name in trigger.parameters:
        if name not in found.parameters:
            listed = ", ".join(sorted(found.parameters)) or "none"
            problems.append({"location": f"trigger.parameters.{name}", "message": f"Operation '{trigger.operation}' has no parameter '{name}' (parameters: {listed})."})
        elif found.parameters[name].get("in") == "body":
            problems.append({"location": f"trigger.parameters.{name}", "message": f"'{name}' is the request body; give it as the trigger's \"body\"."})
        elif found.notification == ("parameter", name):
            problems.append({"location": f"trigger.parameters.{name}", "message": "The service sets the callback URL itself; leave this parameter out."})
    if isinstance(trigger.parameters, dict):
        for name, value in trigger.parameters.items():
            if isinstance(value, str) and value.startswith("=") and not value.startswith("=="):
                problems.append({"location": f"trigger.parameters.{name}", "message": "Trigger parameters are literal values; expressions are not evaluated here."})
    # The body too: the subscribe call would send '=…' as text, silently (docs/flows.md).
    for where in _expressions_in(trigger.body, "trigger.body"):
        problems.append({"location": where, "message": "The trigger's body is literal values; expressions are not evaluated here."})
    return problems


def _expressions_in(value: Any, where: str) -> list[str]:
    """Where, inside a trigger's literal body, a text starts with a single ``=``."""
    if isinstance(value, str):
        return [where] if value.startswith("=") and not value.startswith("==") else []
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _expressions_in(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _expressions_in(item, f"{where}.{index}")]
    return []


def subscription_request(operation: TriggerOperation, parameters: dict[str, Any], body: Any, url: str) -> tuple[dict[str, Any], Any]:
    """The parameters and body of the subscription call: the trigger's own, with the
    callback ``url`` where the definition marks ``x-ms-notification-url`` (a parameter,
    or a property of the body at any depth)."""
    parameters = dict(parameters)
    body = json.loads(json.dumps(body)) if body is not None else None
    where, name = operation.notification
    if where == "parameter":
        parameters[name] = url
        return parameters, body
    body = body if isinstance(body, dict) else {}
    target = body
    for part in name[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[name[-1]] = url
    return parameters, body


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_callback_token(session: Session, subscription: TriggerSubscription) -> str:
    """A fresh secret for the callback URL; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    subscription.token_hash = _token_hash(token)
    session.flush()
    return token


def callback_url(public_url: str, token: str) -> str:
    return public_url.rstrip("/") + CALLBACK_PREFIX + token


def _operation_for(session: Session, asset: Asset, trigger: schemas.ConnectorTrigger) -> TriggerOperation | None:
    slot = session.get(AssetSlot, (asset.id, trigger.slot))
    connector = session.get(Connector, slot.connector_id) if slot else None
    return trigger_operations(connector).get(trigger.operation) if connector else None


def arm(*, session: Session, asset: Asset, spec: schemas.FlowFile, previous: dict[str, Any] | None, now: dt.datetime | None = None) -> None:
    """After a flow is created or its file replaced: subscribe (webhook) or schedule the
    polls of a connector trigger; a trigger that changed or went away unsubscribes first.
    ``previous`` is the stored file before an update (None at creation)."""
    now = now or utcnow()
    trigger = spec.trigger
    old = (previous or {}).get("trigger")
    new = trigger.model_dump(mode="json", exclude_unset=True) if isinstance(trigger, schemas.ConnectorTrigger) else None
    current = session.get(TriggerSubscription, asset.id)
    same_slots = previous is not None and (previous.get("connections") or {}).get((old or {}).get("slot", "")) == \
        json.loads(asset.definition).get("connections", {}).get((new or {}).get("slot", ""))
    if current is not None and new is not None and old == new and same_slots:
        return  # the same trigger: its subscription stays
    if current is not None:
        disarm(session=session, asset=asset, now=now)
    if new is None or asset.disabled_at is not None:  # a disabled flow subscribes when enabled
        return
    operation = _operation_for(session, asset, trigger)
    if operation is None:
        return
    if operation.webhook:
        session.add(TriggerSubscription(
            asset_id=asset.id, kind=SUB_WEBHOOK, state=SUB_PENDING, state_data="{}", error="", updated_at=now,
            notification=trigger_content.dumps(operation.content),
        ))
        session.flush()
        queue.enqueue(session=session, kind=JOB_SUBSCRIBE, asset_id=asset.id, payload={}, now=now)
    else:
        interval = trigger.interval_seconds or DEFAULT_POLL_SECONDS
        session.add(TriggerSubscription(
            asset_id=asset.id, kind=SUB_POLLING, state=SUB_ACTIVE, next_at=now, interval_seconds=interval,
            state_data="{}", error="", updated_at=now,
        ))
        session.flush()


def disarm(*, session: Session, asset: Asset, now: dt.datetime | None = None) -> None:
    """Before a flow is deleted (or its trigger replaced): a webhook the API confirmed is
    unsubscribed by a queued job (DELETE to its Location, through the slot's connection
    as the owner), and the subscription row goes, so its callback URL answers 404."""
    subscription = session.get(TriggerSubscription, asset.id)
    if subscription is None:
        return
    if subscription.kind == SUB_WEBHOOK and subscription.location:
        data = json.loads(asset.definition)
        slot_name = (data.get("trigger") or {}).get("slot")
        slot = session.get(AssetSlot, (asset.id, slot_name)) if slot_name else None
        queue.enqueue(session=session, kind=JOB_UNSUBSCRIBE, asset_id=asset.id, now=now, payload={
            "location": subscription.location, "connection_id": slot.connection_id if slot else None,
            "environment_id": asset.environment_id, "owner_id": asset.owner_id, "scope": asset.scope,
        })
    session.delete(subscription)
    session.flush()


def _callback_not_found() -> NotFound:
    """Read by whoever posted to an old URL (often a maker trying it by hand): the
    generic "not found, or no access" would not say why a URL that worked stops."""
    return NotFound(
        "No flow listens at this callback URL: its flow was deleted or disabled, or it subscribed "
        "again with a new URL (a renewal, enabling it, a changed trigger). Nothing was started.",
        code="CallbackNotFound",
    )


def accept_callback(*, session: Session, token: str, body: bytes, headers: dict[str, str], now: dt.datetime | None = None) -> str | None:
    """A POST to a callback URL: queue a run with ``trigger.body`` / ``trigger.headers``
    (K3: recorded before the caller is answered). Returns the job id, or None for a
    duplicate delivery (same body and delivery id within the window). Not found for a
    URL no subscription issued (a forged or an old one)."""
    subscription = session.scalar(select(TriggerSubscription).where(TriggerSubscription.token_hash == _token_hash(token)))
    if subscription is None or subscription.kind != SUB_WEBHOOK:
        raise _callback_not_found()
    delivery = next((headers[k] for k in ("x-ms-client-tracking-id", "x-request-id", "x-delivery-id", "x-github-delivery", "x-event-id") if k in headers), None)
    kept = {k.lower(): v for k, v in headers.items() if k.lower() not in DROPPED_HEADERS}
    shaped_body, shaped_headers = trigger_content.shape(_content(session, subscription), body, kept)
    payload = {"body": shaped_body, "headers": shaped_headers}
    return queue.enqueue(
        session=session, kind=JOB_RUN, asset_id=subscription.asset_id, payload={"trigger": payload, "label": "webhook"},
        dedupe=queue.dedupe_key(body, delivery), now=now,
    )


def answer_validation(*, session: Session, token: str, validation: str) -> str:
    """Microsoft Graph's handshake (and some other APIs'): while the subscribe call is in
    progress, the API POSTs to the callback URL with ``?validationToken=…`` and expects
    the token back as text within 10 s. The subscribe job commits the URL's hash before
    it calls the API, so a pending subscription answers too. Returns the text to echo;
    queues nothing. Not found for a URL no subscription issued; a token that is empty,
    over :data:`MAX_VALIDATION_TOKEN` characters or holds control characters is refused
    (echoing it would let anyone put arbitrary bytes in an answer of this host)."""
    subscription = session.scalar(select(TriggerSubscription).where(TriggerSubscription.token_hash == _token_hash(token)))
    if subscription is None or subscription.kind != SUB_WEBHOOK:
        raise _callback_not_found()
    if not validation or len(validation) > MAX_VALIDATION_TOKEN or not validation.isprintable():
        raise MalformedRequest(
            f"The validationToken query parameter must be 1 to {MAX_VALIDATION_TOKEN} printable characters without "
            "control characters; this one is not, so it is not echoed.", code="ValidationTokenNotValid",
        )
    return validation


def _content(session: Session, subscription: TriggerSubscription) -> trigger_content.NotificationContent | None:
    """What a delivery carries: as kept on the row when it was recorded or subscribed
    (parsing the connector's definition on each callback cost up to 9.5 ms on the
    largest one), else, for a row from before that was kept, read from the definition."""
    if subscription.notification is not None:
        return trigger_content.loads(subscription.notification)
    asset = session.get(Asset, subscription.asset_id)
    operation = _operation_of_file(session, asset) if asset is not None else None
    return operation.content if operation else None


def _operation_of_file(session: Session, asset: Asset) -> TriggerOperation | None:
    trigger = json.loads(asset.definition).get("trigger") or {}
    slot = session.get(AssetSlot, (asset.id, trigger.get("slot"))) if isinstance(trigger.get("slot"), str) else None
    connector = session.get(Connector, slot.connector_id) if slot else None
    return trigger_operations(connector).get(trigger.get("operation")) if connector else None


def _delivery_description(session: Session, subscription: TriggerSubscription) -> str:
    content = _content(session, subscription)
    return content.description if content else ""


def warnings(*, session: Session, asset: Asset) -> list[dict[str, str]]:
    """A connector trigger's warnings for ``flow show``: steps whose expressions read a
    property of ``trigger.body`` that the delivery's schema does not declare. The schema
    is the subscription's when it has one (resolved from the API's dynamic schema at
    subscribe time), else the one the definition declares."""
    definition = json.loads(asset.definition)
    if (definition.get("trigger") or {}).get("type") != "connector":
        return []
    subscription = session.get(TriggerSubscription, asset.id)
    if subscription is not None:
        content = _content(session, subscription)
    else:
        operation = _operation_of_file(session, asset)
        content = operation.content if operation else None
    return trigger_content.body_warnings(content, definition.get("steps") or [])


def _subscribe_warning(session: Session, subscription: TriggerSubscription) -> str | None:
    """What the latest subscription's reading of the delivery's schema warned of (a
    dynamic schema not read), or None. Kept on the row with the schema it is about, so
    it outlives the job's history; a row subscribed before it was kept there reads the
    latest succeeded subscribe job's history."""
    if subscription.kind != SUB_WEBHOOK or subscription.state != SUB_SUBSCRIBED:
        return None
    stored = trigger_content.stored_warning(subscription.notification) if subscription.notification is not None else None
    if stored is None:
        stored = queue.latest_warning(session=session, asset_id=subscription.asset_id, kind=JOB_SUBSCRIBE)
    return stored or None


def anything_due(*, session: Session, now: dt.datetime | None = None) -> bool:
    """A read-only look before :func:`claim_due`: whether a poll or a renewal is due."""
    now = now or utcnow()
    return session.scalar(
        select(TriggerSubscription.asset_id).where(TriggerSubscription.next_at.is_not(None), TriggerSubscription.next_at <= now).limit(1)
    ) is not None


def claim_due(*, session: Session, now: dt.datetime | None = None, limit: int = 50) -> int:
    """Polls that are due and webhook subscriptions about to expire: each due time is
    moved on by compare-and-set (exactly one process wins it) and becomes a queued job.
    Returns how many were queued."""
    now = now or utcnow()
    rows = session.execute(
        select(TriggerSubscription.asset_id, TriggerSubscription.kind, TriggerSubscription.next_at, TriggerSubscription.interval_seconds)
        .where(TriggerSubscription.next_at.is_not(None), TriggerSubscription.next_at <= now)
        .order_by(TriggerSubscription.next_at)
        .limit(limit)
    ).all()
    queued = 0
    for asset_id, kind, due, interval in rows:
        # Polls: the next due time is set again when the poll answers (Retry-After);
        # this one keeps the flow from being polled twice meanwhile.
        following = now + dt.timedelta(seconds=max(interval or DEFAULT_POLL_SECONDS, 1)) if kind == SUB_POLLING else None
        result = session.execute(
            update(TriggerSubscription)
            .where(TriggerSubscription.asset_id == asset_id, TriggerSubscription.next_at == due)
            .values(next_at=following)
        )
        if result.rowcount != 1:
            continue
        job_kind = JOB_POLL if kind == SUB_POLLING else JOB_SUBSCRIBE
        queue.enqueue(session=session, kind=job_kind, asset_id=asset_id, payload={"renew": kind == SUB_WEBHOOK}, now=now, max_attempts=3)
        queued += 1
    return queued


def view(*, session: Session, asset: Asset) -> dict[str, Any] | None:
    """The trigger's subscription state for ``flow show`` and the portal (never the
    callback URL: it is a credential, masked wherever an API echoed it)."""
    subscription = session.get(TriggerSubscription, asset.id)
    if subscription is None:
        return None
    masked = queue.without_callback_tokens  # an API may echo the URL into what it answers
    return {
        "kind": subscription.kind, "state": subscription.state, "location": masked(subscription.location),
        "expires_at": subscription.expires_at, "next_at": subscription.next_at,
        "interval_seconds": subscription.interval_seconds, "error": masked(subscription.error or ""), "updated_at": subscription.updated_at,
        "delivery": _delivery_description(session, subscription),
        "warning": masked(_subscribe_warning(session, subscription)),
        "jobs": queue.jobs_of(session=session, asset_id=asset.id, limit=10),
    }
