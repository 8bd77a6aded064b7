"""The console's input: job requests (form or JSON) and audit filters (query
string), checked and turned into plain values, or BadInput naming the problem."""

from dataclasses import dataclass

from pydantic import ValidationError

from app.api.validation import validation_message
from app.dbadmin.jobs.service import JobRequest
from app.errors import HeadwayError
from app.validation import parse_id, parse_integer

# How an HTML checkbox or a query string says yes or no.
TRUE_WORDS = ("true", "on", "1", "y", "yes")
FALSE_WORDS = ("false", "off", "0", "n", "no", "")


class BadInput(HeadwayError):
    """Input that cannot be used as given: a 400. `field` names the form
    field at fault, when one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def parse_job_request(form) -> JobRequest:
    """A JobRequest from the console's form fields, checked by the same model
    as the JSON API's body (checkbox words become booleans first)."""
    from app.dbadmin.web.schemas import NewJob

    purge = _boolean(form.get("purge", False))
    if purge is None:
        raise BadInput("purge must be true or false")
    fields = {
        "action": form.get("action"),
        "target": form.get("target"),
        "purge": purge,
        "typed_target": form.get("typed_target"),
    }
    # The guards' opt-ins (app/dbadmin/core/guards.py), as checkboxes.
    for name in ("allow_data_loss", "no_verify", "online", "no_preflight"):
        value = _boolean(form.get(name, False))
        if value is None:
            raise BadInput(f"{name} must be true or false")
        fields[name] = value
    try:
        return NewJob.model_validate(fields).job_request()
    except ValidationError as exc:
        typed = [e for e in exc.errors() if e["loc"] == ("typed_target",)]
        if typed:
            # Beside its field, as the form shows it.
            message = typed[0]["msg"].removeprefix("Value error, ")
            raise BadInput(message, field="typed_target") from None
        raise BadInput(validation_message(exc)) from None


def _boolean(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None or value in FALSE_WORDS:
        return False
    if value in TRUE_WORDS:
        return True
    return None


@dataclass
class AuditFilter:
    revision: str | None = None
    action: str | None = None
    actor: str | None = None  # a part of the actor
    job_id: int | None = None
    failed_only: bool = False
    limit: int = 100


def parse_audit_filter(args) -> AuditFilter:
    """An AuditFilter from a query string: revision, action, actor, job,
    failed=1, limit (1 to 1000, default 100)."""
    job = args.get("job") or None
    job_id = parse_id(str(job)) if job is not None else None
    if job is not None and job_id is None:
        raise BadInput("job must be a job id")
    limit = parse_integer(str(args.get("limit") or "100"), 1, 1000)
    if limit is None:
        raise BadInput("limit must be a number from 1 to 1000")
    return AuditFilter(
        revision=args.get("revision") or None,
        action=args.get("action") or None,
        actor=args.get("actor") or None,
        job_id=job_id,
        failed_only=args.get("failed") in ("1", "true", "yes"),
        limit=limit,
    )
