"""Flask extensions, created unbound; `create_app` binds them. The login
manager and CSRF protection live with the web's security
(app/auth/security.py): a shell command, which serves no page, imports neither
Flask-Login nor WTForms. Flask-Migrate and the tables' MetaData are in
app/database.py: `flask db` works without Flask-SQLAlchemy's ORM."""

from flask_sqlalchemy import SQLAlchemy

from app.database import metadata

db = SQLAlchemy(metadata=metadata)
