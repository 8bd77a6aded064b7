"""The console's input: job requests (form or JSON) and audit filters (query
string), checked and turned into plain values, or BadInput naming the problem."""

from dataclasses import dataclass

from app.dbadmin.jobs.service import ACTIONS, JobRequest
from app.errors import HeadwayError

# How an HTML checkbox or a query string says yes or no.
TRUE_WORDS = ("true", "on", "1", "y", "yes")
FALSE_WORDS = ("false", "off", "0", "n", "no", "")


class BadInput(HeadwayError):
    """Input that cannot be used as given: a 400."""


def parse_job_request(data) -> JobRequest:
    """A JobRequest from a JSON object or form fields."""
    if not isinstance(data, dict):
        raise BadInput("the body must be a JSON object")
    action = data.get("action")
    if action not in ACTIONS:
        raise BadInput(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    target = data.get("target")
    if target is not None and not isinstance(target, str):
        raise BadInput("target must be a string")
    target = (target or "").strip() or None
    if target is None and action != "adopt":
        raise BadInput(f"{action} needs a target: a revision, head, heads or base")
    purge = _boolean(data.get("purge", False))
    if purge is None:
        raise BadInput("purge must be true or false")
    if purge and action != "stamp":
        raise BadInput("purge only goes with stamp")
    allow_data_loss = _boolean(data.get("allow_data_loss", False))
    if allow_data_loss is None:
        raise BadInput("allow_data_loss must be true or false")
    if allow_data_loss and action not in ("upgrade", "downgrade"):
        raise BadInput("allow_data_loss only goes with upgrade and downgrade")
    no_verify = _boolean(data.get("no_verify", False))
    if no_verify is None:
        raise BadInput("no_verify must be true or false")
    if no_verify and action != "stamp":
        raise BadInput("no_verify only goes with stamp")
    return JobRequest(action, target, purge, allow_data_loss, no_verify)


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
    if job is not None and not str(job).isdigit():
        raise BadInput("job must be a job id")
    limit = str(args.get("limit") or "100")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise BadInput("limit must be a number from 1 to 1000")
    return AuditFilter(
        revision=args.get("revision") or None,
        action=args.get("action") or None,
        actor=args.get("actor") or None,
        job_id=int(job) if job is not None else None,
        failed_only=args.get("failed") in ("1", "true", "yes"),
        limit=int(limit),
    )
