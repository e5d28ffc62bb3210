"""Apps and flows (DESIGN F1–F3, A7, A8): assets that call connectors through slots.

"Assets" is the code's one word for what users call **flows** and **apps** (the CLI's
``connectorhub flow`` / ``connectorhub app``, the portal's Flows page): the package holds
both, as their rules are the same but for the trigger. :mod:`.service` creates, lists,
binds and deletes them, :mod:`.sharing` shares them, :mod:`.runs` runs them,
:mod:`.facts` holds the read-only loaders and guards other packages use.
"""
