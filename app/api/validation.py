"""JSON bodies validated by pydantic models, and the description of every
route under /api/ that /api/openapi.json publishes."""

import functools
from collections.abc import Callable

from flask import jsonify, request
from pydantic import BaseModel, ValidationError
from pydantic_core import from_json


def describe(
    request_model: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | None] | None = None,
    before_body: Callable | None = None,
) -> Callable:
    """Attach the body and response models to a view, for the OpenAPI
    description. With a request model, the view also receives the validated
    body as `body`; an invalid one is answered 400 before the view runs.
    `before_body()` runs first and may answer instead (a refusal that needs
    no body: the body is then never read)."""

    def decorate(view: Callable) -> Callable:
        if request_model is None:
            wrapped = view
        else:

            @functools.wraps(view)
            def wrapped(*args, **kwargs):
                if before_body is not None:
                    answer = before_body()
                    if answer is not None:
                        return answer
                body = parse_body(request_model)
                if not isinstance(body, BaseModel):
                    return body  # the 400 answer
                return view(*args, body=body, **kwargs)

        wrapped.openapi = {"request": request_model, "responses": responses or {}}
        return wrapped

    return decorate


# An invalid body is answered with at most this many field errors, each cut
# short: the answer stays small whatever the body (MAX_CONTENT_LENGTH bounds
# the body itself).
MAX_ERRORS = 20
MAX_LOCATION = 100
MAX_MESSAGE = 200


def parse_body(model: type[BaseModel]):
    """The request's JSON body as `model`, or a 400 answer naming what is
    wrong. pydantic parses the JSON itself: its parser refuses nesting past a
    depth limit instead of recursing until the stack runs out."""
    data = request.get_data(cache=True) or b"{}"
    unknown = unknown_fields(model, data)
    if unknown:
        fields = {}
        for name in unknown:
            fields[_cut(name, MAX_LOCATION)] = "Extra inputs are not permitted"
            if len(fields) == MAX_ERRORS:
                break
        message = "; ".join(f"{where}: {what}" for where, what in fields.items())
        if len(unknown) > len(fields):
            message += f" ({len(unknown)} errors in all)"
        return jsonify(error=f"invalid request body: {message}", fields=fields), 400
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        return jsonify(
            error=f"invalid request body: {validation_message(exc)}",
            fields=field_errors(exc),
        ), 400


def unknown_fields(model: type[BaseModel], data: bytes) -> list[str]:
    """The top-level names of a JSON object body that `model` does not have.
    Found before validation: pydantic would build an error for each of them
    (a megabyte of names costs seconds), where this costs one parse."""
    try:
        parsed = from_json(data)
    except ValueError:
        return []  # not JSON: validation says so
    if not isinstance(parsed, dict):
        return []
    known = {field.alias or name for name, field in model.model_fields.items()}
    return [name for name in parsed if name not in known]


def field_errors(exc: ValidationError) -> dict[str, str]:
    """What is wrong, per field ("(body)" for the body as a whole): the first
    MAX_ERRORS."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    return {
        _cut(_location(e["loc"]), MAX_LOCATION): _cut(
            e["msg"].removeprefix("Value error, "), MAX_MESSAGE
        )
        for e in errors[:MAX_ERRORS]
    }


def validation_message(exc: ValidationError) -> str:
    errors = field_errors(exc)
    message = "; ".join(
        what
        if where == "(body)" and not what.startswith(("Input", "Invalid"))
        else f"{where}: {what}"
        for where, what in errors.items()
    )
    if exc.error_count() > len(errors):
        message += f" ({exc.error_count()} errors in all)"
    return message


def _location(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(body)"


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
