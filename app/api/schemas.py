"""Request and response bodies of the JSON API, as pydantic models: the same
classes validate requests and describe them in /api/openapi.json."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.auth.tokens import MAX_TOKEN_DAYS, NAME_MAX_LENGTH
from app.errors import HeadwayError
from app.validation import check_name


def _printable(value: str) -> str:
    try:
        return check_name(value, "the value", len(value), required=False)
    except HeadwayError as exc:
        raise ValueError(str(exc)) from None


def printable_text(max_length: int):
    """A string type for names: at most `max_length` characters, and none of
    the control characters app/validation.py refuses."""
    return Annotated[str, Field(max_length=max_length), AfterValidator(_printable)]


class Request(BaseModel):
    """A request body: exact JSON types (no "5" for 5) and no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


class NewToken(Request):
    """A new API token for the caller: a logged-in session re-entering its
    password (a token cannot create tokens)."""

    name: printable_text(NAME_MAX_LENGTH) = ""
    password: str = Field(max_length=1024)
    days: int | None = Field(
        None, ge=1, le=MAX_TOKEN_DAYS, description="lifetime; default 90 days"
    )


class Error(BaseModel):
    error: str
    fields: dict[str, str] | None = Field(
        None, description="for an invalid body: what is wrong with each field"
    )


class Me(BaseModel):
    username: str
    role: str


class Token(BaseModel):
    id: int
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenList(BaseModel):
    tokens: list[Token]


class CreatedToken(Token):
    token: str = Field(description="the token itself, shown this once only")


class Account(BaseModel):
    username: str
    role: str
    active: bool
    last_login_at: datetime | None


class AccountList(BaseModel):
    users: list[Account]
