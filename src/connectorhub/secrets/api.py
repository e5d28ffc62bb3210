"""REST endpoints of master key management (K1): platform administrators only.

``GET /keys`` status, ``POST /keys/rotate`` add a version and re-wrap (``{"resume": true}``:
only re-wrap), ``POST /keys/{version}/retire``. Rotating and retiring are audited
(``keys.rotate``, ``keys.retire``) as instance-wide events.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from connectorhub.api.context import Context, context
from connectorhub.secrets import schemas, service

router = APIRouter(tags=["keys"])
# One rotate request works this long at most, then answers complete=false; the CLI calls
# again with resume until done (keeps requests short; no background state in the process).
ROTATE_BUDGET_SECONDS = 30.0


def _admin(ctx: Context = Depends(context)) -> Context:
    with ctx.transaction(write=False):  # authenticates; rotation then runs its own batches
        pass
    return ctx


def _status(ctx: Context) -> schemas.KeyStatusOut:
    """The key status; the use case refuses anyone but a platform administrator."""
    with ctx.services.sessions() as session:
        return schemas.KeyStatusOut.model_validate(service.status(session=session, keyring=ctx.keyring, actor=ctx.actor).as_dict())


@router.get("/keys", response_model=schemas.KeyStatusOut)
def key_status(ctx: Context = Depends(_admin)):
    """Current master key version, configured versions, and secret records per version."""
    return _status(ctx)


@router.post("/keys/rotate", response_model=schemas.RotateOut)
def rotate_keys(body: schemas.RotateIn | None = None, ctx: Context = Depends(_admin)):
    """Add a master key version and re-wrap every data key under it, in short batches."""
    result = service.rotate(
        sessions=ctx.services.sessions,
        keyring=ctx.keyring,
        actor=ctx.actor,
        resume=bool(body and body.resume),
        max_seconds=ROTATE_BUDGET_SECONDS,
    )
    return schemas.RotateOut(**result.as_dict(), status=_status(ctx))


@router.post("/keys/{version}/retire", response_model=schemas.RetireOut)
def retire_key(version: int = Path(..., ge=1), ctx: Context = Depends(_admin)):
    """Remove an unused, non-current version from the key file."""
    service.retire(sessions=ctx.services.sessions, keyring=ctx.keyring, version=version, actor=ctx.actor)
    return schemas.RetireOut(retired=version, status=_status(ctx))
