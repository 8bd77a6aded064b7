"""The OpenAPI 3.1 description of the JSON API, generated from the app's URL
map and the pydantic models the views validate with: a route added without a
description still appears, and a model change shows at once."""

import re

from flask import Flask
from pydantic.json_schema import models_json_schema

from app.api.schemas import Error
from app.validation import MAX_ID

REF = "#/components/schemas/{model}"
PARAMETER = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>[^<>]+)>")
CONVERTER_TYPES = {
    "int": {"type": "integer", "minimum": 0},
    "id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
STANDARD_ERRORS = {
    401: "not logged in: no session cookie and no valid bearer token",
    403: "the caller's role may not do this",
}


def openapi_document(app: Flask) -> dict:
    operations = []
    models = {Error}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        described = getattr(view, "openapi", {"request": None, "responses": {}})
        if described["request"]:
            models.add(described["request"])
        models.update(m for m in described["responses"].values() if m)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operations.append((rule, method.lower(), view, described))

    _, schemas = models_json_schema(
        [
            (m, "validation" if _is_request(m, operations) else "serialization")
            for m in sorted(models, key=lambda m: m.__name__)
        ],
        ref_template=REF,
    )
    paths: dict = {}
    for rule, method, view, described in operations:
        path = PARAMETER.sub(lambda m: "{" + m["name"] + "}", rule.rule)
        paths.setdefault(path, {})[method] = _operation(rule, view, described)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Headway API",
            "version": "1",
            "description": "JSON under /api/. Authenticate with a session cookie "
            "(state changes then need the X-CSRFToken header) or with "
            "`Authorization: Bearer <token>`.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


def _is_request(model, operations) -> bool:
    return any(d["request"] is model for _, _, _, d in operations)


def _operation(rule, view, described) -> dict:
    doc = (view.__doc__ or "").strip()
    operation: dict = {
        "operationId": rule.endpoint,
        "summary": doc.splitlines()[0] if doc else rule.endpoint,
        "responses": {},
    }
    if doc:
        operation["description"] = doc
    parameters = [
        {
            "name": m["name"],
            "in": "path",
            "required": True,
            "schema": CONVERTER_TYPES.get(m["converter"] or "", {"type": "string"}),
        }
        for m in PARAMETER.finditer(rule.rule)
    ]
    if parameters:
        operation["parameters"] = parameters
    if described["request"]:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": REF.format(model=described["request"].__name__)}
                }
            },
        }
        operation["responses"]["400"] = _error("the body is not valid: see `fields`")
    for status, model in described["responses"].items():
        content = (
            {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}
            if model
            else None
        )
        response = {"description": "ok" if status < 400 else "error"}
        if content:
            response["content"] = content
        operation["responses"][str(status)] = response
    if not described["responses"]:
        operation["responses"]["200"] = {"description": "ok"}
    for status, text in STANDARD_ERRORS.items():
        operation["responses"].setdefault(str(status), _error(text))
    return operation


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": REF.format(model="Error")}}
        },
    }
