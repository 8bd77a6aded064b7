"""Request bodies of the console's JSON API (/api/migrations/...), as pydantic
models: they validate the requests and describe them in /api/openapi.json.
The console's form goes through the same model."""

from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from app.api.schemas import Request, printable_text
from app.dbadmin.jobs.service import SETTLING, JobRequest

# The actions that always need the target typed again; any job that may drop
# data (allow_data_loss) needs it too.
TYPED_CONFIRMATION = ("downgrade", "stamp")


class NewJob(Request):
    """A schema change to run as a job."""

    action: Literal[
        "upgrade", "downgrade", "stamp", "adopt", "rollback", "resume", "preflight"
    ]
    target: printable_text(255) | None = Field(
        None,
        description="a revision (or a unique prefix), head, heads or base; for "
        "rollback and resume, optional: the revision of the step left half-way",
    )
    purge: bool = Field(False, description="stamp only: replace every stamped head")
    allow_data_loss: bool = Field(
        False,
        description="upgrade/downgrade/rollback only: run steps that drop tables "
        "or columns holding data",
    )
    no_verify: bool = Field(
        False, description="stamp only: stamp without proving the schema first"
    )
    online: bool = Field(
        False,
        description="upgrade/downgrade only (MySQL/MariaDB): run each statement "
        "that would copy a table, or rebuild it with writes blocked, through "
        "pt-online-schema-change; refused before it starts where that cannot work",
    )
    no_preflight: bool = Field(
        False,
        description="upgrade/downgrade only: run the steps without preflight "
        "first (a step that will fail is then not refused before it starts); "
        "the audit trail records it",
    )
    typed_target: printable_text(255) | None = Field(
        None,
        description="the target typed again, exactly: required for downgrade "
        "and stamp, and with allow_data_loss. The deliberate yes the console's "
        "form asks for, asked the same way here.",
        validate_default=True,
    )

    @field_validator("typed_target")
    @classmethod
    def _typed_again(cls, typed: str | None, info: ValidationInfo) -> str | None:
        """The one rule for the console's form and the API alike."""
        action, target = info.data.get("action"), info.data.get("target")
        if action is None or target is None:
            return typed  # already wrong: their own errors say so
        allow_data_loss = info.data.get("allow_data_loss")
        if allow_data_loss and action not in ("upgrade", "downgrade", "rollback"):
            return typed  # refused as it is: allow_data_loss does not go there
        target = target.strip()
        needed = action in TYPED_CONFIRMATION or allow_data_loss
        if needed and target and (typed or "").strip() != target:
            raise ValueError(
                f"type the target ({target}) again to confirm the {action}"
            )
        return typed

    @model_validator(mode="after")
    def _consistent(self) -> "NewJob":
        self.target = (self.target or "").strip() or None
        if self.target is None and self.action not in SETTLING + ("adopt",):
            raise ValueError(
                f"{self.action} needs a target: a revision, head, heads or base"
            )
        if self.purge and self.action != "stamp":
            raise ValueError("purge only goes with stamp")
        if self.allow_data_loss and self.action not in (
            "upgrade",
            "downgrade",
            "rollback",
        ):
            raise ValueError(
                "allow_data_loss only goes with upgrade, downgrade and rollback"
            )
        if self.no_verify and self.action != "stamp":
            raise ValueError("no_verify only goes with stamp")
        if self.online and self.action not in ("upgrade", "downgrade"):
            raise ValueError("online only goes with upgrade and downgrade")
        if self.no_preflight and self.action not in ("upgrade", "downgrade"):
            raise ValueError("no_preflight only goes with upgrade and downgrade")
        return self

    def job_request(self) -> JobRequest:
        return JobRequest(
            self.action,
            self.target,
            self.purge,
            allow_data_loss=self.allow_data_loss,
            no_verify=self.no_verify,
            online=self.online,
            no_preflight=self.no_preflight,
        )


class JobStarted(BaseModel):
    id: int
    status: str = Field(
        description="running (follow it at /api/migrations/jobs/{id}), or failed "
        "when its process could not start"
    )
    error: str | None = Field(None, description="why it failed to start")
