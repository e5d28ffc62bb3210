"""OAuth 2.0 state of connections (DESIGN R2, K1).

The token values themselves are encrypted secret rows (owner kind ``"oauth"``, see
:mod:`connectorhub.runtime.oauth`); these tables hold only what may be read in clear:
the token generation and expiry, the refresh claim that makes a refresh happen once
across processes, and pending sign-ins.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connectorhub.db import Base, UtcDateTime, utcnow


class OAuthToken(Base):
    """One row per signed-in connection.

    ``generation`` grows by one with every new token (sign-in or refresh): readers cache
    a decrypted token by (connection, generation), and a refresh is written only if the
    generation is still the one it started from. ``refreshing_until``/``refresh_owner``
    are the refresh claim (a lease: a crashed owner's claim expires).
    """

    __tablename__ = "oauth_tokens"

    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    token_type: Mapped[str] = mapped_column(String(40), default="Bearer")
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # None: the provider did not say (no expires_in); the token is used until refused.
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    has_refresh_token: Mapped[bool] = mapped_column(Boolean, default=False)
    refreshing_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    refresh_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The last refresh that failed for a passing reason (network, 5xx): callers back off.
    refresh_failed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    refresh_error: Mapped[str] = mapped_column(String(1000), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class OAuthSignInState(Base):
    """A sign-in started and not yet completed. ``id`` is the SHA-256 of the ``state``
    sent to the provider: the state authenticates the callback, so only its hash is kept."""

    __tablename__ = "oauth_sign_in_states"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    # PKCE (RFC 7636), sealed with a key derived from the browser's binding cookie
    # (runtime.oauth_binding): the row alone does not give the verifier away.
    code_verifier: Mapped[str] = mapped_column(String(128))
    # SHA-256 of the binding cookie set on the browser that started the sign-in; the
    # callback is refused without it (a victim cannot finish an attacker's sign-in, nor
    # an attacker a victim's). None only for rows of before revision 0013: never matches.
    binding_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
