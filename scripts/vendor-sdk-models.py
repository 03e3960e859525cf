#!/usr/bin/env python3
"""Regenerate crates/emulator/schema/genesys-sdk.schema.json from the official Genesys Python SDK.

The shared OpenAPI subset (scripts/vendor-genesys-schema.py) lacks the operations qm-migrate added
later: the evaluation aggregates query, the quality audit query and the gamification reads. Their
models come from the official SDK package itself (`PureCloudPlatformClientV2` on PyPI): each model
class declares its fields (`swagger_types`, `attribute_map`), its enums (`allowed_values` in the
setters) and its documentation (the getters' docstrings); each API method its path, HTTP method, body
and response type. This script turns them into Draft 4 JSON Schema definitions and a table of the
operations, in the same shape as genesys.schema.json, so the emulator judges these requests and
responses against the official models too. The SDK models do not say which fields are required.

Usage (not run by CI; nothing downloads at run time):
    python3 -m venv /tmp/sdk && /tmp/sdk/bin/pip install PureCloudPlatformClientV2==269.0.0
    /tmp/sdk/bin/python scripts/vendor-sdk-models.py [OUTPUT]
"""
import importlib
import inspect
import json
import re
import sys
from pathlib import Path

import importlib.metadata

import PureCloudPlatformClientV2 as sdk

VERSION = importlib.metadata.version("PureCloudPlatformClientV2")

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "crates/emulator/schema/genesys-sdk.schema.json"

# (API module, method name) of every operation the tool calls or the emulator serves beyond the subset.
OPERATIONS = [
    ("analytics_api", "post_analytics_evaluations_aggregates_query"),
    ("quality_api", "post_quality_conversations_audits_query"),
    ("quality_api", "get_quality_conversations_audits_query_transaction_id"),
    ("quality_api", "get_quality_conversations_audits_query_transaction_id_results"),
    ("gamification_api", "get_gamification_profiles"),
    ("gamification_api", "get_gamification_profile_metrics"),
    ("gamification_api", "get_gamification_metricdefinitions"),
]

PRIMITIVES = {
    "str": {"type": "string"},
    "int": {"type": "integer", "format": "int32"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "object": {},
}


def operation(module, name):
    api = importlib.import_module(f"PureCloudPlatformClientV2.apis.{module}")
    cls = next(c for _, c in inspect.getmembers(api, inspect.isclass) if c.__module__ == api.__name__)
    src = inspect.getsource(getattr(cls, name))
    path = re.search(r"resource_path = '([^']+)'", src).group(1)
    method = re.search(r"call_api\(resource_path, '(\w+)'", src).group(1)
    body = re.search(r":param (\w+) body:", src)
    response = re.search(r"response_type='(\w+)'", src)
    return {
        "method": method,
        "path": path,
        "request": body.group(1) if body else None,
        "responses": {"200": response.group(1) if response else None, "default": "ErrorBody"},
    }


def type_schema(t, wanted):
    if t in PRIMITIVES:
        return dict(PRIMITIVES[t])
    m = re.fullmatch(r"list\[(.+)\]", t)
    if m:
        return {"type": "array", "items": type_schema(m.group(1), wanted)}
    m = re.fullmatch(r"dict\(str, (.+)\)", t)
    if m:
        return {"type": "object", "additionalProperties": type_schema(m.group(1), wanted)}
    wanted.add(t)
    return {"$ref": f"#/definitions/{t}"}


def definition(name, wanted):
    cls = getattr(sdk.models, name)
    model = cls()
    props = {}
    for attr, t in model.swagger_types.items():
        schema = type_schema(t, wanted)
        prop = getattr(cls, attr)
        doc = inspect.getdoc(prop.fget) or ""
        lines = [l for l in doc.splitlines() if l.strip() and not l.startswith((":", "Gets the"))]
        if lines:
            schema["description"] = " ".join(lines)
        if prop.fset is not None:
            allowed = re.search(r"allowed_values = \[(.*?)\]", inspect.getsource(prop.fset), re.S)
            if allowed:
                values = re.findall(r'"([^"]*)"', allowed.group(1))
                if schema.get("type") == "array":
                    schema["items"]["enum"] = values
                else:
                    schema["enum"] = values
        props[model.attribute_map[attr]] = schema
    doc = (inspect.getdoc(cls) or "").split("NOTE:")[0].strip()
    out = {"type": "object", "properties": props}
    if doc:
        out["description"] = doc
    return out


def main():
    operations = {name: operation(module, name) for module, name in OPERATIONS}
    wanted = {"ErrorBody"}
    for op in operations.values():
        for d in [op["request"], *op["responses"].values()]:
            if d:
                wanted.add(d)
    definitions = {}
    todo = sorted(wanted)
    while todo:
        name = todo.pop()
        if name in definitions:
            continue
        found = set()
        definitions[name] = definition(name, found)
        todo.extend(sorted(found - set(definitions)))
    out = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "description": "Generated by scripts/vendor-sdk-models.py from the official Genesys Python SDK "
        f"(PureCloudPlatformClientV2 {VERSION} on PyPI): "
        "model fields, enums and docstrings, and the API methods' paths, bodies and responses. Do not edit by hand.",
        "source_info": "The SDK models do not mark required fields: none is enforced.",
        "operations": dict(sorted(operations.items())),
        "definitions": dict(sorted(definitions.items())),
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUTPUT}: {len(operations)} operations, {len(definitions)} definitions")


if __name__ == "__main__":
    main()
