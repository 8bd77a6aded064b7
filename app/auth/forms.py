from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from app.validation import refused_character


def printable_only(form, field) -> None:
    """No control characters (a NUL byte included) in what names something."""
    if field.data and refused_character(field.data) is not None:
        raise ValidationError("Control characters are not allowed here.")


class LoginForm(FlaskForm):
    username = StringField(
        "Username", validators=[DataRequired(), Length(max=64), printable_only]
    )
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
