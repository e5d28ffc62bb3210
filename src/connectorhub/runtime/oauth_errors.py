"""What is kept of a provider's error at sign-in (DESIGN R2, K2).

The provider's redirect back may carry ``?error=…&error_description=…``, text chosen by
whoever made the browser open that address. None of it is stored, shown or logged: the
error is reduced to a category from the fixed vocabulary of RFC 6749 (4.1.2.1 and 5.2)
and OpenID Connect, anything else is ``other``, and the sentences around it are fixed.
"""

from __future__ import annotations

OTHER = "other"
KNOWN = frozenset({
    # RFC 6749 4.1.2.1: the authorization endpoint's errors
    "invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type", "invalid_scope",
    "server_error", "temporarily_unavailable",
    # RFC 6749 5.2: the token endpoint's errors
    "invalid_client", "invalid_grant", "unsupported_grant_type",
    # OpenID Connect Core 3.1.2.6
    "interaction_required", "login_required", "account_selection_required", "consent_required",
    "invalid_request_uri", "invalid_request_object", "request_not_supported", "request_uri_not_supported",
    "registration_not_supported",
    # what connectorhub itself names
    "no_code", "issuer_mismatch",
})


def category(error: str | None) -> str:
    """The error as a category: one of :data:`KNOWN`, else ``other`` (never the text)."""
    text = (error or "").strip()
    return text if text in KNOWN else OTHER


def sentence(category_: str) -> str:
    """A fixed sentence saying what the category means to the user."""
    if category_ == "access_denied":
        return "the provider answered that access was denied (the sign-in was declined or not allowed)"
    if category_ == "no_code":
        return "the provider sent no authorization code"
    if category_ == "issuer_mismatch":
        return "the answer came from another provider than the connection's"
    if category_ == OTHER:
        return "the provider answered with an error"
    return f"the provider answered {category_}"
