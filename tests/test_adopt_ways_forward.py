"""No revision matches: the closest one and the ways forward, each tried as
the output says (a reconciling revision written for review, then adopted
and verified; an adoption despite the differences, audited). On every
dialect under test, on the legacy database (DDL and a few rows)."""

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.helpers import data_fingerprint, migrations_head, version_rows

# `flask` commands only: each test's app is built as the command builds it.
pytestmark = pytest.mark.cli

HEAD = migrations_head()


@pytest.fixture
def differing(scripted_app, prepare):
    """The legacy database with two changes no revision has: a column and an
    index. The app's migrations are a copy the test may write into."""
    prepare(scripted_app, (("legacy", 0.005, 5),))
    with scripted_app.app_context():
        engine = db.engine
        with engine.connect() as conn:
            conn.exec_driver_sql("ALTER TABLE titles ADD COLUMN note VARCHAR(10)")
            conn.exec_driver_sql("CREATE INDEX ix_salaries_salary ON salaries (salary)")
            conn.commit()
        yield scripted_app.test_cli_runner(), engine


def test_no_match_names_the_closest_revision_and_the_ways_forward(differing):
    runner, engine = differing
    result = runner.invoke(args=["db", "adopt"])
    assert result.exit_code == 1
    output = result.output
    assert "no revision matches; nothing was written." in output
    assert "closest: 0001_baseline, with 2 differences:" in output
    assert "  - column titles.note: not in the expected schema" in output
    assert "  - index salaries.ix_salaries_salary: not in the expected schema" in output
    assert "`flask db adopt --write-revision`" in output
    assert "`flask db adopt --accept-differences`" in output
    assert version_rows(engine) is None

    result = runner.invoke(args=["db", "adopt", "--dry-run", "--write-revision"])
    assert result.exit_code == 1
    assert "--dry-run and --write-revision do not go together" in result.output
    assert "Traceback" not in result.output


def test_a_written_revision_reviewed_and_adopted_verifies(differing, scripts):
    runner, engine = differing
    data_before = data_fingerprint(engine)
    before = set(scripts.versions.glob("*.py"))

    result = runner.invoke(args=["db", "adopt", "--write-revision"])
    assert result.exit_code == 0, result.output
    assert version_rows(engine) is None  # nothing stamped
    (written,) = set(scripts.versions.glob("*.py")) - before
    source = written.read_text()
    assert "down_revision = '0001_baseline'" in source
    assert "'note'" in source and "ix_salaries_salary" in source
    revision = written.name.split("_")[0]
    assert "checked: 0001_baseline plus this revision builds exactly" in (result.output)
    assert f"`flask db adopt --to {revision}`" in result.output
    assert "the scripts now have one head more" in result.output

    # Reviewed: adopted as the output says, verified, nothing else touched.
    result = runner.invoke(args=["db", "adopt", "--to", revision])
    assert result.exit_code == 0, result.output
    assert f"adopted at {revision}" in result.output
    assert version_rows(engine) == [revision]
    result = runner.invoke(args=["db", "verify"])
    assert result.exit_code == 0, result.output
    assert f"matches {revision}" in result.output
    assert data_fingerprint(engine) == data_before

    # And the branch joins the scripts' head, as the output says.
    result = runner.invoke(args=["db", "merge", "heads", "-m", "join"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["db", "verify"])
    assert result.exit_code == 0, result.output


def test_what_a_written_revision_cannot_render_is_named(differing, scripts):
    """A moved column: autogenerate renders no column order. The file says so,
    and the command says what to add by hand."""
    runner, engine = differing
    if engine.dialect.name != "mysql":
        pytest.skip("a column moved in place is MySQL/MariaDB's")
    with engine.connect() as conn:
        conn.exec_driver_sql(
            "ALTER TABLE employees MODIFY birth_date DATE NOT NULL AFTER hire_date"
        )
        conn.commit()
    before = set(scripts.versions.glob("*.py"))
    result = runner.invoke(args=["db", "adopt", "--write-revision"])
    assert result.exit_code == 1
    moved = "column employees.birth_date: after hire_date, expected after emp_no"
    assert moved in result.output
    assert "add them by hand" in result.output
    (written,) = set(scripts.versions.glob("*.py")) - before
    assert f"#   - {moved}" in written.read_text()
    assert version_rows(engine) is None


def test_accepting_the_differences_is_explicit_and_audited(differing):
    runner, engine = differing
    # The audit trail must be there to record what is accepted.
    result = runner.invoke(args=["db", "adopt", "--accept-differences"])
    assert result.exit_code == 1
    assert "run `flask headway init` first" in result.output
    assert version_rows(engine) is None

    assert runner.invoke(args=["headway", "init"]).exit_code == 0
    result = runner.invoke(args=["db", "adopt", "--accept-differences"])
    assert result.exit_code == 0, result.output
    assert "adopted at 0001_baseline despite 2 difference(s)" in result.output
    assert version_rows(engine) == ["0001_baseline"]
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT action, revision, accepted_differences, success "
                "FROM headway_audit ORDER BY id DESC"
            )
        ).first()
    assert row.action == "adopt-accepted" and row.revision == "0001_baseline"
    assert sorted(row.accepted_differences.splitlines()) == [
        "column titles.note: not in the expected schema",
        "index salaries.ix_salaries_salary: not in the expected schema",
    ]
    assert row.success
