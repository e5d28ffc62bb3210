"""Connection parameters: from a connector's ``apiProperties.json`` to validated values.

Pure functions (standard library only, no storage). The connection service, the API
and the CLI use them to build the parameter form of a connector and to check what a
maker typed before a connection is created or updated (DESIGN A6, C4, K1, K2).

* :func:`parameter_sets` reads ``properties.connectionParameterSets.values`` (one
  :class:`ParameterSet` each) or, when the connector has no sets,
  ``properties.connectionParameters`` (one unnamed set, possibly empty). It never
  raises, whatever the document looks like: structural validation (C3) reports bad
  shapes; this module reads what it can.
* Secret values never come from the stored document: ``securestring`` defaults are
  write-only (C4) and are passed in as ``secret_defaults``, keyed by the JSON pointer
  they were taken from (see :mod:`connectorhub.connectors.secrets_split`).
* :func:`choose_set` picks the set the maker asked for; :func:`parse_assignments`
  reads ``--param NAME=VALUE`` items; :func:`resolve` checks and coerces the values.
* Every problem is collected and raised once as :class:`ParameterProblem`. No message,
  ``repr`` or problem list ever contains a value that was given, stored or defaulted
  (K2): messages say "the value given for X" instead.

Decisions (recorded here because DESIGN is silent):

* Several named sets and no set name: an error that lists the set names. Picking the
  first set silently would choose an authentication method the maker did not ask for.
* Set names match exactly, or else case-insensitively when that is unambiguous.
* Parameter names match exactly; an unknown name is a problem that suggests the
  parameter with the same name in another case, and lists the known names.
* ``default`` and the schema's ``defaultValue`` are both read, on the parameter and on
  its ``uiDefinition``. An empty default counts as no default.
* A ``securestring``/``clientCertificate`` default comes from ``secret_defaults``
  (pointer ending ``/default`` or ``/defaultValue``); a secret default still present
  in the document is used as a fallback and is treated as secret all the same.
* ``allowSharing: false`` (boolean or the string ``"false"``) on a set, on the
  ``connectionParameterSets`` object or at ``properties`` level makes every affected
  set unshareable; at ``properties`` level it applies to all sets (the safe side, A6).
* A value given for an ``oauthSetting`` parameter is a problem: it is filled in by
  signing in, never typed.
* ``""``, whitespace only or ``None`` means "no value": it clears an earlier value on
  update, then the default applies; for a required parameter without a default it is
  a "required" problem.
* On update, earlier values are checked again against the current definition (the
  connector may have changed, C5) and values of parameters the set no longer has are
  dropped.
* Parameters keep the order of the document.
* Unknown parameter types are kept as written and treated as text; a type that differs
  only in case from a known one is normalised to it, so a mis-cased ``SecureString``
  is still secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from connectorhub.connectors.parameter_types import CONNECTION_PARAMETER_TYPES, SECRET_PARAMETER_TYPES
from connectorhub.errors import InvalidRequest

__all__ = [
    "ParameterProblem",
    "ParameterSet",
    "ParameterSpec",
    "ResolvedParameters",
    "choose_set",
    "parameter_sets",
    "parse_assignments",
    "resolve",
]

_CANONICAL_TYPES = {t.lower(): t for t in CONNECTION_PARAMETER_TYPES}
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_INT = re.compile(r"[+-]?[0-9]+")
_MASK = "***"


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class ParameterSpec:
    """One connection parameter as the UI and CLI show it.

    ``default`` of a secret parameter holds the secret default (C4): it is never
    shown by :meth:`to_dict` nor by ``repr`` (K2).
    """

    name: str
    type: str
    display_name: str
    description: str
    required: bool
    hidden: bool
    default: object | None
    allowed_values: tuple[str, ...]
    secret: bool
    # x-ms-visibility: "important", "advanced" (shown collapsed), "internal" (hidden) or "" (not said).
    visibility: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The form description; a secret default is only ``"has_default": true`` (C4, K2)."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "display_name": self.display_name,
            "description": self.description,
            "required": self.required,
            "hidden": self.hidden,
            "secret": self.secret,
            "allowed_values": list(self.allowed_values),
            "has_default": self.default is not None,
            "visibility": self.visibility,
        }
        if self.default is not None and not self.secret:
            out["default"] = self.default
        return out

    def __repr__(self) -> str:
        default = _MASK if (self.secret and self.default is not None) else repr(self.default)
        return (
            f"ParameterSpec(name={self.name!r}, type={self.type!r}, display_name={self.display_name!r}, "
            f"description={self.description!r}, required={self.required!r}, hidden={self.hidden!r}, "
            f"default={default}, allowed_values={self.allowed_values!r}, secret={self.secret!r})"
        )


@dataclass(frozen=True)
class ParameterSet:
    """A connection parameter set (``connectionParameterSets.values[i]``), or the
    connector's plain ``connectionParameters`` (``name`` is None). ``allow_sharing``
    is False when the connector says ``"allowSharing": false`` (A6)."""

    name: str | None
    display_name: str
    parameters: tuple[ParameterSpec, ...]
    allow_sharing: bool
    needs_oauth: bool

    def parameter(self, name: str) -> ParameterSpec | None:
        """The parameter called ``name`` (exact match), or None."""
        for spec in self.parameters:
            if spec.name == name:
                return spec
        return None

    def to_dict(self) -> dict[str, Any]:
        """The set for the UI/CLI; parameters as :meth:`ParameterSpec.to_dict` (K2)."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "allow_sharing": self.allow_sharing,
            "needs_oauth": self.needs_oauth,
            "parameters": [spec.to_dict() for spec in self.parameters],
        }


@dataclass
class ResolvedParameters:
    """Checked values: non-secret ones coerced (int, bool, str) in ``values``, secret
    ones (K1) in ``secrets``. ``repr`` masks the secrets (K2)."""

    values: dict[str, object] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    needs_oauth: bool = False

    def __repr__(self) -> str:
        masked = {name: _MASK for name in self.secrets}
        return f"ResolvedParameters(values={self.values!r}, secrets={masked!r}, needs_oauth={self.needs_oauth!r})"


class ParameterProblem(InvalidRequest):
    """Connection parameters that break the connector's definition (A6).

    ``problems`` is a list of ``{"parameter": name or None, "message": sentence}``;
    ``str(exc)`` is one sentence that summarises all of them. Messages never contain
    a value (K2). As an :class:`~connectorhub.errors.InvalidRequest` it answers 422
    with code ``ConnectionParametersNotValid`` and the problem list, and CLI exit 1.
    """

    default_code = "ConnectionParametersNotValid"
    title = "Connection parameters not valid"

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = [{"parameter": p.get("parameter"), "message": str(p.get("message", ""))} for p in problems]
        super().__init__(_summary(self.problems), problems=[dict(p) for p in self.problems])


def _summary(problems: list[dict[str, Any]]) -> str:
    count = len(problems)
    noun = "problem" if count == 1 else "problems"
    if not count:
        return "0 connection parameter problems."
    parts = [p["message"].rstrip().rstrip(".") for p in problems]
    return f"{count} connection parameter {noun}: " + "; ".join(parts) + "."


# --------------------------------------------------------------------------- reading


def _escape(token: str) -> str:
    """RFC 6901 escaping of one pointer token."""
    return token.replace("~", "~0").replace("/", "~1")


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _get_ci(mapping: dict, *keys: str) -> Any:
    """The first of ``keys`` present in ``mapping``, matched exactly, then ignoring case."""
    for key in keys:
        if key in mapping:
            return mapping[key]
    lowered = {k.lower(): k for k in mapping if isinstance(k, str)}
    for key in keys:
        if key.lower() in lowered:
            return mapping[lowered[key.lower()]]
    return None


def _truthy(value: Any) -> bool:
    """``true``/``"true"`` (any case, surrounding spaces ignored) is true; anything else false."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() == "true"


def _is_false(value: Any) -> bool:
    """``false``/``"false"`` (any case): used for ``allowSharing``, where absence means true."""
    if isinstance(value, bool):
        return not value
    return isinstance(value, str) and value.strip().lower() == "false"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _as_allowed(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _allowed_values(parameter: dict, constraints: dict) -> tuple[str, ...]:
    out: list[str] = []
    for source in (parameter.get("allowedValues"), constraints.get("allowedValues")):
        if not isinstance(source, list):
            continue
        for item in source:
            value = _as_allowed(item.get("value") if isinstance(item, dict) else item)
            if value is not None and value not in out:
                out.append(value)
    return tuple(out)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and value == "")


def _inline_default(parameter: dict, ui: dict) -> Any:
    for source in (parameter, ui):
        for key in ("default", "defaultValue"):
            if key in source and _present(source[key]):
                return source[key]
    return None


def _spec(name: str, parameter: dict, pointer: str, secret_defaults: dict[str, str]) -> ParameterSpec:
    raw_type = parameter.get("type")
    kind = _CANONICAL_TYPES.get(raw_type.lower(), raw_type) if isinstance(raw_type, str) else "string"
    ui = _dict(parameter.get("uiDefinition"))
    constraints = _dict(ui.get("constraints"))
    secret = kind in SECRET_PARAMETER_TYPES
    default: Any = None
    if secret:
        for key in ("default", "defaultValue"):
            value = secret_defaults.get(f"{pointer}/{key}")
            if _present(value):
                default = str(value)
                break
        if default is None:
            inline = _inline_default(parameter, ui)
            default = None if inline is None else str(inline)
    else:
        default = _inline_default(parameter, ui)
    display = _get_ci(ui, "displayName")
    if not (isinstance(display, str) and display) and _dict(parameter.get("metadata")).get("sourceType") == (
        "AzureActiveDirectoryTenant"
    ):
        display = "Tenant"  # the claim parameter token:TenantId, named so by the public schema
    visibility = _visibility(parameter.get("x-ms-visibility", _get_ci(ui, "x-ms-visibility")))
    description = _get_ci(ui, "description")
    if not isinstance(description, str) or not description:
        description = _get_ci(ui, "tooltip")
    return ParameterSpec(
        name=name,
        type=kind,
        display_name=display if isinstance(display, str) and display else name,
        description=_text(description),
        required=_truthy(constraints.get("required")),
        hidden=_truthy(constraints.get("hidden")) or visibility == "internal",
        default=default,
        allowed_values=_allowed_values(parameter, constraints),
        secret=secret,
        visibility=visibility,
    )


VISIBILITIES = ("important", "advanced", "internal")


def _visibility(value: Any) -> str:
    """``x-ms-visibility`` as one of :data:`VISIBILITIES`, or "" when not said (or unknown)."""
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if text in VISIBILITIES else ""


def _specs(parameters: Any, prefix: str, secret_defaults: dict[str, str]) -> tuple[ParameterSpec, ...]:
    out = []
    for name, parameter in _dict(parameters).items():
        if not isinstance(name, str) or not isinstance(parameter, dict):
            continue
        out.append(_spec(name, parameter, f"{prefix}/{_escape(name)}", secret_defaults))
    return tuple(out)


def parameter_sets(api_properties: dict | None, secret_defaults: dict[str, str] | None = None) -> list[ParameterSet]:
    """The connection parameter sets of a connector (A6, C4).

    ``connectionParameterSets.values[*]`` when there is at least one set object, else
    one unnamed set from ``connectionParameters`` (possibly empty). ``secret_defaults``
    maps JSON pointers such as ``/properties/connectionParameters/<name>/default`` or
    ``/properties/connectionParameterSets/values/<i>/parameters/<name>/default``
    (RFC 6901-escaped names) to the write-only defaults of secret parameters (C4).
    Never raises on a malformed document; unreadable parts are skipped.
    """
    secrets = {k: v for k, v in (secret_defaults or {}).items() if isinstance(k, str)}
    properties = _dict(_dict(api_properties).get("properties"))
    top_no_sharing = _is_false(properties.get("allowSharing"))
    container = _dict(properties.get("connectionParameterSets"))
    container_no_sharing = _is_false(container.get("allowSharing"))
    values = container.get("values")
    sets: list[ParameterSet] = []
    if isinstance(values, list):
        for index, entry in enumerate(values):
            if not isinstance(entry, dict):
                continue
            raw_name = entry.get("name")
            name = raw_name.strip() if isinstance(raw_name, str) and raw_name.strip() else f"set{index + 1}"
            display = _get_ci(_dict(entry.get("uiDefinition")), "displayName")
            specs = _specs(
                entry.get("parameters"),
                f"/properties/connectionParameterSets/values/{index}/parameters",
                secrets,
            )
            sets.append(
                ParameterSet(
                    name=name,
                    display_name=display if isinstance(display, str) and display else name,
                    parameters=specs,
                    allow_sharing=not (top_no_sharing or container_no_sharing or _is_false(entry.get("allowSharing"))),
                    needs_oauth=any(s.type == "oauthSetting" for s in specs),
                )
            )
    if sets:
        return sets
    specs = _specs(properties.get("connectionParameters"), "/properties/connectionParameters", secrets)
    return [
        ParameterSet(
            name=None,
            display_name="Default",
            parameters=specs,
            allow_sharing=not top_no_sharing,
            needs_oauth=any(s.type == "oauthSetting" for s in specs),
        )
    ]


def choose_set(sets: list[ParameterSet], name: str | None) -> ParameterSet:
    """The set a connection uses (A6).

    Without a name: the only set; when the connector has several named sets a
    :class:`ParameterProblem` lists them (no silent first choice). With a name: the
    set of that name (exact, else case-insensitive when unambiguous); an unknown name
    lists the names there are.
    """
    named = [s.name for s in sets if s.name is not None]
    listing = ", ".join(f'"{n}"' for n in named)
    if name is None or (isinstance(name, str) and not name.strip()):
        if len(sets) == 1:
            return sets[0]
        if not sets:
            raise ParameterProblem([{"parameter": None, "message": "The connector has no connection parameter sets."}])
        raise ParameterProblem(
            [
                {
                    "parameter": None,
                    "message": f"The connector has {len(sets)} connection parameter sets ({listing}); "
                    "choose one of them by name.",
                }
            ]
        )
    wanted = name.strip()
    for s in sets:
        if s.name == wanted:
            return s
    folded = [s for s in sets if s.name is not None and s.name.lower() == wanted.lower()]
    if len(folded) == 1:
        return folded[0]
    if not named:
        message = f'The connector has no named connection parameter sets, so there is no set "{wanted}"; give no set name.'
    else:
        message = f'The connector has no connection parameter set "{wanted}"; choose one of {listing}.'
    raise ParameterProblem([{"parameter": None, "message": message}])


# --------------------------------------------------------------------------- checking


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` (from ``--param``) to a dict; the value may contain ``=``.

    An item without ``=``, with an empty name, or a name given twice is a problem; all
    are reported in one :class:`ParameterProblem`. A malformed item is never quoted,
    since it may hold a secret (K2).
    """
    out: dict[str, str] = {}
    problems: list[dict[str, Any]] = []
    for position, item in enumerate(items or [], start=1):
        if not isinstance(item, str) or "=" not in item:
            problems.append(
                {
                    "parameter": None,
                    "message": f"Parameter item {position} is not of the form NAME=VALUE "
                    "(it has no \"=\"); write it as NAME=VALUE.",
                }
            )
            continue
        name, value = item.split("=", 1)
        name = name.strip()
        if not name:
            problems.append(
                {
                    "parameter": None,
                    "message": f"Parameter item {position} has no name before \"=\"; write it as NAME=VALUE.",
                }
            )
            continue
        if name in out:
            problems.append(
                {"parameter": name, "message": f"{name} is given more than once; give each parameter once."}
            )
            continue
        out[name] = value
    if problems:
        raise ParameterProblem(problems)
    return out


def _label(spec: ParameterSpec) -> str:
    if spec.display_name and spec.display_name != spec.name:
        return f"{spec.name} ({spec.display_name})"
    return spec.name


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _coerce(spec: ParameterSpec, value: Any, what: str) -> tuple[object | None, str | None]:
    """(coerced value, None) or (None, problem sentence). ``what`` names the value
    ("the value given for X"); the value itself is never put in the sentence (K2)."""
    kind = spec.type
    if kind == "int":
        if isinstance(value, bool):
            return None, f"{what} is not a whole number; use digits such as 42."
        if isinstance(value, int):
            result: object = value
        elif isinstance(value, float) and value.is_integer():
            result = int(value)
        elif isinstance(value, str) and _INT.fullmatch(value.strip()):
            result = int(value.strip())
        else:
            return None, f"{what} is not a whole number; use digits such as 42."
        text = str(result)
    elif kind == "bool":
        if isinstance(value, bool):
            result = value
        elif isinstance(value, int) and value in (0, 1):
            result = bool(value)
        elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            result = value.strip().lower() in _TRUE
        else:
            return None, f"{what} is not true or false; use true or false (yes/no and 1/0 also work)."
        text = "true" if result else "false"
    else:
        if isinstance(value, str):
            result = value
        elif isinstance(value, bool):
            result = "true" if value else "false"
        elif isinstance(value, (int, float)):
            result = str(value)
        else:
            return None, f"{what} must be text, not a list or an object."
        text = result
    if spec.allowed_values:
        if kind == "bool":
            ok = text in {a.strip().lower() for a in spec.allowed_values}
        else:
            ok = text in spec.allowed_values
        if not ok:
            allowed = ", ".join(spec.allowed_values)
            return None, f"{what} is not one of the allowed values: {allowed}."
    return result, None


def changed_settings(parameter_set: ParameterSet, given: dict[str, object], existing: ResolvedParameters) -> list[str]:
    """The parameters that are not secret whose value ``given`` changes (an update):
    what decides where the connection's secrets are sent (red team 2)."""
    specs = {spec.name: spec for spec in parameter_set.parameters}
    return sorted(
        name for name, value in (given or {}).items()
        if name in specs and not specs[name].secret and existing.values.get(name) != value
    )


def resolve(
    parameter_set: ParameterSet,
    given: dict[str, object],
    *,
    existing: ResolvedParameters | None = None,
) -> ResolvedParameters:
    """Check and coerce connection parameter values for ``parameter_set`` (A6, C4, K2).

    * Unknown names are problems (the known names are listed).
    * ``int`` values must be whole numbers, ``bool`` values true/false/1/0/yes/no (any
      case); values outside ``allowed_values`` are problems that list the allowed ones.
    * A required parameter with no value (``""`` counts as none), no default and, on
      update, no earlier value in ``existing`` is a problem; ``oauthSetting``
      parameters are satisfied by signing in later (``needs_oauth``) and cannot be given.
    * Defaults fill in omitted values; secret defaults (C4) go into ``secrets``.
    * ``existing`` keeps earlier values that are not given now (checked again).

    All problems are raised together as one :class:`ParameterProblem`; no message
    contains a value (K2).
    """
    given = dict(given or {})
    specs = {spec.name: spec for spec in parameter_set.parameters}
    problems: list[dict[str, Any]] = []

    where = (
        "The connector"
        if parameter_set.name is None
        else f'The connection parameter set "{parameter_set.name}"'
    )
    known = ", ".join(specs) if specs else ""
    for raw_name in given:
        name = str(raw_name)
        if name in specs:
            continue
        near = [n for n in specs if n.lower() == name.lower()]
        hint = f' (did you mean "{near[0]}"?)' if len(near) == 1 else ""
        if specs:
            message = f'{where} has no parameter "{name}"{hint}; its parameters are {known}.'
        else:
            message = f'{where} takes no connection parameters, so "{name}" cannot be given.'
        problems.append({"parameter": name, "message": message})

    values: dict[str, object] = {}
    secrets: dict[str, str] = {}

    def store(spec: ParameterSpec, value: object) -> None:
        if spec.secret:
            secrets[spec.name] = str(value)
        else:
            values[spec.name] = value

    for spec in parameter_set.parameters:
        label = _label(spec)
        if spec.type == "oauthSetting":
            if spec.name in given and not _empty(given[spec.name]):
                problems.append(
                    {
                        "parameter": spec.name,
                        "message": f"{label} is filled in by signing in with OAuth, not by a value; "
                        "leave it out and sign in once the connection exists.",
                    }
                )
            continue
        if spec.name in given:
            value = given[spec.name]
            if not _empty(value):
                result, problem = _coerce(spec, value, f"The value given for {label}")
                if problem:
                    problems.append({"parameter": spec.name, "message": problem})
                    continue
                store(spec, result)
                continue
            # "" / None: no value now, whatever there was before.
        elif existing is not None:
            earlier: Any = None
            if spec.name in existing.secrets:
                earlier = existing.secrets[spec.name]
            elif spec.name in existing.values:
                earlier = existing.values[spec.name]
            if not _empty(earlier):
                result, problem = _coerce(spec, earlier, f"The stored value for {label}")
                if problem:
                    problems.append(
                        {"parameter": spec.name, "message": problem.rstrip(".") + "; give a new value."}
                    )
                    continue
                store(spec, result)
                continue
        if spec.default is not None and not _empty(spec.default):
            result, problem = _coerce(spec, spec.default, f"The connector's default for {label}")
            if problem:
                problems.append({"parameter": spec.name, "message": problem.rstrip(".") + "; give a value."})
                continue
            store(spec, result)
            continue
        if spec.required:
            problems.append({"parameter": spec.name, "message": f"{label} is required but has no value."})

    if problems:
        raise ParameterProblem(problems)
    return ResolvedParameters(values=values, secrets=secrets, needs_oauth=parameter_set.needs_oauth)
