"""Who may turn a slot of an app or flow to ``shared`` (DESIGN F3, A5, A6, A7).

A ``shared`` slot lends the connection bound to it: every recipient of that share runs
the asset with it. Lending a connection is sharing its use (A6), so only someone who may
share that connection may lend it. The asset's owner lends only what they may (the
unshareable-slot rule of ``asset_rules.decide_asset_share``, checked again at every run by
``asset_rules.decide_slot_lend``); a co-owner or an administrator shares the asset, but
the connection in its slot is usually the owner's, not theirs to lend. Before this rule
a co-owner could re-share the asset to themself with a slot ``shared`` and run it on the
owner's credentials (the security review's M7).
"""

from __future__ import annotations

from collections.abc import Mapping

from connectorhub.access.decisions import (
    ALLOW,
    FORBIDDEN,
    Access,
    Actor,
    Decision,
)
from connectorhub.access.asset_rules import AssetFacts, can_lend_connection


def decide_slot_lending(actor: Actor, asset: AssetFacts, lent: Mapping[str, Access | None]) -> Decision:
    """F3, A5, A6: may ``actor`` make these slots ``shared``?

    ``lent`` maps each slot the share turns to ``shared`` — it was not ``shared`` in the
    principal's share before — to the actor's access to the connection the slot would
    lend (bound to it, or to its connection reference), or to None when the slot has no
    connection yet. Keeping a slot ``shared`` that already was lends nothing new.

    The owner is decided by the unshareable-slot rule instead (their right to lend is
    what runs check). Anyone else needs the right to share the slot's connection: to own
    it, or to hold CanUseAndShare or CanEdit on it (A6 with A5: one shares only what one
    may share). A slot without a connection can be made ``shared`` by the owner only,
    since whatever is bound to it later is the owner's to lend.
    """
    if actor.user_id == asset.owner_id:
        return ALLOW
    for slot in sorted(lent):
        access = lent[slot]
        if access is None:
            return Decision(
                FORBIDDEN,
                f"Slot '{slot}' has no connection yet, so only the {asset.kind}'s owner can make it shared. "
                "Share the slot as invoker instead.",
                "SlotLendForbidden",
            )
        if not can_lend_connection(access):
            return Decision(
                FORBIDDEN,
                f"Making slot '{slot}' shared would lend its connection to others, and only the connection's owner, "
                "or someone it is shared with as CanUseAndShare or CanEdit, may do that. "
                "Share the slot as invoker instead, or ask the connection's owner.",
                "SlotLendForbidden",
            )
    return ALLOW
