"""JSON bodies validated by pydantic models, and the description of every
route under /api/ that /api/openapi.json publishes."""

import functools
from collections.abc import Callable

from flask import jsonify, request
from pydantic import BaseModel, ValidationError


def describe(
    request_model: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | None] | None = None,
) -> Callable:
    """Attach the body and response models to a view, for the OpenAPI
    description. With a request model, the view also receives the validated
    body as `body`; an invalid one is answered 400 before the view runs."""

    def decorate(view: Callable) -> Callable:
        if request_model is None:
            wrapped = view
        else:

            @functools.wraps(view)
            def wrapped(*args, **kwargs):
                body = parse_body(request_model)
                if not isinstance(body, BaseModel):
                    return body  # the 400 answer
                return view(*args, body=body, **kwargs)

        wrapped.openapi = {"request": request_model, "responses": responses or {}}
        return wrapped

    return decorate


def parse_body(model: type[BaseModel]):
    """The request's JSON body as `model`, or a 400 answer naming each wrong
    field. pydantic parses the JSON itself: its parser refuses nesting past a
    depth limit instead of recursing until the stack runs out."""
    data = request.get_data(cache=True) or b"{}"
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        return jsonify(
            error=f"invalid request body: {validation_message(exc)}",
            fields=field_errors(exc),
        ), 400


def field_errors(exc: ValidationError) -> dict[str, str]:
    """What is wrong, per field ("(body)" for the body as a whole)."""
    return {
        _location(e["loc"]): e["msg"].removeprefix("Value error, ")
        for e in exc.errors()
    }


def validation_message(exc: ValidationError) -> str:
    return "; ".join(
        what
        if where == "(body)" and not what.startswith(("Input", "Invalid"))
        else f"{where}: {what}"
        for where, what in field_errors(exc).items()
    )


def _location(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(body)"
