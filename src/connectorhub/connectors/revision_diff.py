"""What changed between two revisions of a connector, and whether it breaks its users (C5).

Pure: it reads two parsed ``apiDefinition.swagger.json`` and ``apiProperties.json``
documents and touches nothing else. A change is **breaking** (docs/decisions.md) when:

- an operation is removed (operations are matched by ``operationId``, else by method and path);
- a required parameter is added to an operation, or an optional one becomes required;
- a parameter's type changes (``type``, or a body's schema type or ``$ref``);
- authentication changes: a security definition, a connection parameter (its name or
  type, at the top level or in a parameter set), or an OAuth identity provider or its
  scopes is added, removed or changed.

Everything else is reported and not breaking: added operations, added optional
parameters, removed parameters, a new summary, description, method, path, format, host,
base path or title, a new icon or script.
"""

from __future__ import annotations

import json
from typing import Any

METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def _resolve(definition: dict[str, Any], parameter: Any) -> Any:
    """A ``{"$ref": "#/parameters/X"}`` parameter, resolved (once; a loop stays a ref)."""
    if isinstance(parameter, dict) and isinstance(parameter.get("$ref"), str):
        ref = parameter["$ref"]
        if ref.startswith("#/parameters/"):
            found = (definition.get("parameters") or {}).get(ref[len("#/parameters/"):])
            if isinstance(found, dict):
                return found
    return parameter


def _type_of(parameter: dict[str, Any]) -> str:
    if parameter.get("in") == "body":
        schema = parameter.get("schema") if isinstance(parameter.get("schema"), dict) else {}
        if isinstance(schema.get("$ref"), str):
            return schema["$ref"].rsplit("/", 1)[-1]
        kind = str(schema.get("type", "object"))
        if kind == "array" and isinstance(schema.get("items"), dict):
            items = schema["items"]
            return f"array of {items['$ref'].rsplit('/', 1)[-1] if isinstance(items.get('$ref'), str) else items.get('type', 'object')}"
        return kind
    kind = str(parameter.get("type", "string"))
    if kind == "array" and isinstance(parameter.get("items"), dict):
        return f"array of {parameter['items'].get('type', 'string')}"
    return kind


def _parameters(definition: dict[str, Any], path_item: dict[str, Any], operation: dict[str, Any]) -> dict[tuple[str, str], dict]:
    """An operation's parameters by (location, name), path-level ones included (the
    operation's own win, as in Swagger 2.0)."""
    out: dict[tuple[str, str], dict] = {}
    for source in (path_item.get("parameters"), operation.get("parameters")):
        for raw in source if isinstance(source, list) else ():
            parameter = _resolve(definition, raw)
            if isinstance(parameter, dict) and isinstance(parameter.get("name"), str):
                where = str(parameter.get("in", ""))
                out[(where, parameter["name"])] = {
                    "required": bool(parameter.get("required")) or where == "path",
                    "type": _type_of(parameter),
                    "format": parameter.get("format"),
                }
    return out


def operations(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every operation by its key: ``operationId``, else ``METHOD path``."""
    out: dict[str, dict[str, Any]] = {}
    for path, item in (definition.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if method.lower() not in METHODS or not isinstance(operation, dict):
                continue
            key = operation.get("operationId") if isinstance(operation.get("operationId"), str) else f"{method.upper()} {path}"
            out[key] = {
                "operation_id": key, "method": method.upper(), "path": path,
                "summary": operation.get("summary", ""), "description": operation.get("description", ""),
                "parameters": _parameters(definition, item, operation),
            }
    return out


def _outline(operation: dict[str, Any]) -> dict[str, Any]:
    return {k: operation[k] for k in ("operation_id", "method", "path", "summary")}


def _change(kind: str, detail: str, breaking: bool, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "detail": detail, "breaking": breaking, **extra}


def _operation_changes(key: str, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    changes = []
    if (old["method"], old["path"]) != (new["method"], new["path"]):
        changes.append(_change("operation moved", f"Operation '{key}' moved from {old['method']} {old['path']} to "
                                                  f"{new['method']} {new['path']}.", False))
    for field in ("summary", "description"):
        if old[field] != new[field]:
            changes.append(_change(f"{field} changed", f"The {field} of operation '{key}' changed.", False))
    before, after = old["parameters"], new["parameters"]
    for where, name in sorted(after.keys() - before.keys()):
        required = after[(where, name)]["required"]
        changes.append(_change(
            "parameter added",
            f"Operation '{key}' has a new {'required' if required else 'optional'} parameter '{name}' ({where}).",
            required, parameter=name, location=where,
        ))
    for where, name in sorted(before.keys() - after.keys()):
        changes.append(_change("parameter removed", f"Parameter '{name}' ({where}) of operation '{key}' was removed.", False,
                               parameter=name, location=where))
    for where, name in sorted(before.keys() & after.keys()):
        was, now = before[(where, name)], after[(where, name)]
        if was["type"] != now["type"]:
            changes.append(_change("parameter type changed", f"Parameter '{name}' ({where}) of operation '{key}' changed type "
                                                             f"from {was['type']} to {now['type']}.", True, parameter=name, location=where))
        elif was["format"] != now["format"]:
            changes.append(_change("parameter format changed", f"Parameter '{name}' ({where}) of operation '{key}' changed format "
                                                               f"from {was['format'] or 'none'} to {now['format'] or 'none'}.", False,
                                   parameter=name, location=where))
        if not was["required"] and now["required"]:
            changes.append(_change("parameter now required", f"Parameter '{name}' ({where}) of operation '{key}' is now required.",
                                   True, parameter=name, location=where))
        elif was["required"] and not now["required"]:
            changes.append(_change("parameter now optional", f"Parameter '{name}' ({where}) of operation '{key}' is now optional.",
                                   False, parameter=name, location=where))
    return changes


def _connection_parameters(properties: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Connection parameters by name ('set/name' inside a parameter set): type, and for
    OAuth the identity provider and scopes. Client ids and secrets are left out."""
    inner = properties.get("properties") if isinstance(properties.get("properties"), dict) else {}
    maps = [("", inner.get("connectionParameters"))]
    sets = inner.get("connectionParameterSets")
    if isinstance(sets, dict) and isinstance(sets.get("values"), list):
        maps += [(f"{item.get('name', index)}/", item.get("parameters")) for index, item in enumerate(sets["values"]) if isinstance(item, dict)]
    out: dict[str, dict[str, Any]] = {}
    for prefix, params in maps:
        for name, spec in (params or {}).items() if isinstance(params, dict) else ():
            if not isinstance(spec, dict):
                continue
            oauth = spec.get("oAuthSettings") if isinstance(spec.get("oAuthSettings"), dict) else {}
            out[prefix + name] = {
                "type": spec.get("type"),
                "identity provider": oauth.get("identityProvider"),
                "scopes": sorted(map(str, oauth.get("scopes") or [])) if isinstance(oauth.get("scopes"), list) else oauth.get("scopes"),
            }
    return out


def _security_definitions(definition: dict[str, Any]) -> dict[str, str]:
    found = definition.get("securityDefinitions")
    if not isinstance(found, dict):
        return {}
    return {
        name: json.dumps({k: v for k, v in spec.items() if k != "description"} if isinstance(spec, dict) else spec, sort_keys=True)
        for name, spec in found.items()
    }


def _auth_changes(old_def, old_props, new_def, new_props) -> list[dict[str, Any]]:
    changes = []
    before, after = _security_definitions(old_def), _security_definitions(new_def)
    for name in sorted(after.keys() - before.keys()):
        changes.append(_change("auth changed", f"Authentication changed: security definition '{name}' was added.", True))
    for name in sorted(before.keys() - after.keys()):
        changes.append(_change("auth changed", f"Authentication changed: security definition '{name}' was removed.", True))
    for name in sorted(before.keys() & after.keys()):
        if before[name] != after[name]:
            changes.append(_change("auth changed", f"Authentication changed: security definition '{name}' changed.", True))
    was, now = _connection_parameters(old_props), _connection_parameters(new_props)
    for name in sorted(now.keys() - was.keys()):
        changes.append(_change("auth changed", f"Authentication changed: connection parameter '{name}' was added.", True))
    for name in sorted(was.keys() - now.keys()):
        changes.append(_change("auth changed", f"Authentication changed: connection parameter '{name}' was removed.", True))
    for name in sorted(was.keys() & now.keys()):
        for field in ("type", "identity provider", "scopes"):
            if was[name][field] != now[name][field]:
                changes.append(_change("auth changed", f"Authentication changed: the {field} of connection parameter '{name}' "
                                                       f"changed from {was[name][field]} to {now[name][field]}.", True))
    return changes


def _general_changes(old_def: dict[str, Any], new_def: dict[str, Any]) -> list[dict[str, Any]]:
    changes = []
    for field in ("host", "basePath"):
        if old_def.get(field) != new_def.get(field):
            changes.append(_change(f"{field} changed", f"The {field} changed from {old_def.get(field)} to {new_def.get(field)}.", False))
    old_title, new_title = (old_def.get("info") or {}).get("title"), (new_def.get("info") or {}).get("title")
    if old_title != new_title:
        changes.append(_change("title changed", f"The title changed from '{old_title}' to '{new_title}'.", False))
    return changes


def diff(old_def: dict[str, Any], old_props: dict[str, Any] | None, new_def: dict[str, Any], new_props: dict[str, Any] | None) -> dict[str, Any]:
    """The changes from the old documents to the new ones (module docstring)."""
    old_props, new_props = old_props or {}, new_props or {}
    before, after = operations(old_def), operations(new_def)
    added = [_outline(after[k]) for k in sorted(after.keys() - before.keys())]
    removed = [_outline(before[k]) for k in sorted(before.keys() - after.keys())]
    changed = []
    for key in sorted(before.keys() & after.keys()):
        found = _operation_changes(key, before[key], after[key])
        if found:
            changed.append({**_outline(after[key]), "changes": found})
    auth = _auth_changes(old_def, old_props, new_def, new_props)
    reasons = [f"Operation '{o['operation_id']}' ({o['method']} {o['path']}) was removed." for o in removed]
    reasons += [c["detail"] for op in changed for c in op["changes"] if c["breaking"]]
    reasons += [c["detail"] for c in auth]
    return {
        "breaking": bool(reasons),
        "breaking_changes": reasons,
        "operations": {"added": added, "removed": removed, "changed": changed},
        "auth": auth,
        "general": _general_changes(old_def, new_def),
    }


def breaking_changes(old_def, old_props, new_def, new_props) -> list[str]:
    """Why a change breaks the connector's users (empty when it does not)."""
    return diff(old_def, old_props, new_def, new_props)["breaking_changes"]
