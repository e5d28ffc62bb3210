"""REST shapes of master key management (K1). No shape carries key material (K2)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from connectorhub.schemas import Strict


class VersionOut(BaseModel):
    version: int
    configured: bool = Field(description="The service holds this version's key")
    current: bool = Field(description="New data keys are wrapped under this version")
    records: int = Field(description="Secret records whose data key is wrapped under this version")


class KeyStatusOut(BaseModel):
    source: str = Field(description="'file' (rotatable) or 'environment' (CONNECTORHUB_MASTER_KEY, read-only)")
    key_file: str | None = Field(
        None, description="Name of the key file, when keys come from a file (its folder on the server is not shown)"
    )
    current: int
    versions: list[VersionOut]
    records: int = Field(description="All secret records")
    records_not_current: int = Field(description="Records still under an older version (re-wrap with rotate --resume)")
    refresh_seconds: float = Field(description="How soon other serve processes follow a change of the key file")


class RotateIn(Strict):
    resume: bool = Field(False, description="Only re-wrap data keys under the current version; add no version")


class RotateOut(BaseModel):
    added_version: int | None = Field(None, description="The version this call added (None with resume)")
    current: int
    rewrapped: int = Field(description="Data keys re-wrapped by this call")
    batches: int
    remaining: int = Field(description="Records under another version when this call ended")
    unreadable: int = Field(description="Records whose data key could not be unwrapped (missing key version or damage)")
    unreadable_versions: list[int]
    complete: bool = Field(description="False: stopped by the time budget; call again with resume=true")
    seconds: float
    status: KeyStatusOut


class RetireOut(BaseModel):
    retired: int
    status: KeyStatusOut
