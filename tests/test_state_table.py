"""The one state model (app/dbadmin/core/state.py): every state has its row,
and every surface renders from it."""

import pytest

from app.dbadmin.core.state import STATES, DatabaseState, State


def test_every_state_has_one_row_and_a_rank_of_its_own():
    assert set(STATES) == set(State)
    ranks = [info.rank for info in STATES.values()]
    assert len(set(ranks)) == len(ranks)


def test_the_ranks_follow_the_documented_order():
    by_rank = sorted(State, key=lambda s: STATES[s].rank, reverse=True)
    documented = [
        State.UNREACHABLE,
        State.PARTIAL,
        State.UNKNOWN_REVISION,
        State.DRIFT,
        State.REDUNDANT_STAMP,
        State.UNVERSIONED,
        State.BEHIND,
        State.UP_TO_DATE,
    ]
    assert [s for s in by_rank if s in documented] == documented


def test_words_are_words_and_only_up_to_date_is_ready():
    for state, info in STATES.items():
        assert "_" not in info.words and info.words, state
        assert info.colour in {"success", "warning", "info", "danger", "secondary"}
        assert info.reason and "_" not in info.reason
    assert [s for s, info in STATES.items() if info.ready] == [State.UP_TO_DATE]


def test_each_state_renders_its_own_words_in_the_navbar_badge(app):
    from app.navigation import NavStatus

    for state in State:
        nav = NavStatus("db", state, None)
        assert nav.badge == (STATES[state].words, STATES[state].colour)
        assert DatabaseState(state).info is STATES[state]


def example(state: State) -> DatabaseState:
    """A database in `state`, with what its summary tells."""
    from datetime import datetime

    from app.dbadmin.core.fingerprint import DRIFT, SchemaCheck
    from app.dbadmin.core.journal import PartialStep

    if state == State.PARTIAL:
        partial = PartialStep(
            1, "0002_x", "upgrade", ("0001_x",), {}, [], "boom", datetime(2026, 1, 1),
            "ann", None,
        )  # fmt: skip
        return DatabaseState(state, ("0001_x",), ("0002_x",), partial=partial)
    if state == State.DRIFT:
        check = SchemaCheck(DRIFT, ["employees.email: missing"], "the models")
        return DatabaseState(state, ("0002_x",), ("0002_x",), schema_check=check)
    if state == State.UNKNOWN_REVISION:
        return DatabaseState(state, ("0009_gone",), ("0002_x",), unknown=("0009_gone",))
    if state == State.REDUNDANT_STAMP:
        return DatabaseState(
            state, ("0001_x", "0002_x"), ("0002_x",), redundant=("0001_x",)
        )
    if state == State.UNREACHABLE:
        return DatabaseState(state, error="connection refused")
    return DatabaseState(state, ("0002_x",), ("0002_x",))


@pytest.mark.parametrize("state", list(State), ids=str)
def test_each_state_in_words_and_one_colour_on_every_surface(app, state):
    """The navbar badge, the banner's first words, the status JSON and
    /readyz's words all come from the state's row: words, never the key."""
    from app.dbadmin.web.overview import Overview
    from app.dbadmin.web.serialize import status_json
    from app.navigation import NavStatus

    info = STATES[state]
    database = example(state)
    summary = database.summary()
    assert summary and str(state) not in summary.replace(info.words, ""), summary
    with app.test_request_context("/admin/"):
        badge = app.jinja_env.from_string(
            "{% import '_navbar.html' as n %}{{ n.database_status(nav) }}"
        ).render(nav=NavStatus("employees", state, None))
    assert f'badge-{info.colour}"' in badge
    assert f">{info.words}</span>" in badge
    view = Overview(catalog=None, database=database)
    view.__dict__["drift_status"] = _no_check()
    view.__dict__["catalog"] = _NoBroken()
    body = status_json(view, None)
    assert (body["state"], body["state_words"], body["state_colour"]) == (
        state,
        info.words,
        info.colour,
    )


class _NoBroken:
    broken = ()


def _no_check():
    from app.dbadmin.core.drift import DriftStatus

    return DriftStatus(None, None)


def test_a_drift_check_finding_outranks_up_to_date_and_behind_only():
    """A drift check's differences make "up to date" or "behind" drift;
    the states above drift stay."""
    from datetime import datetime
    from types import SimpleNamespace

    from app.dbadmin.core.drift import DriftStatus, with_drift_check

    found = SimpleNamespace(
        checked_at=datetime(2026, 1, 1),
        stamp_error=None,
        stamp_differences="employees.hire_date: DATE, not DATETIME",
        model_differences="",
    )
    status = DriftStatus(found, None)
    for state in (State.UP_TO_DATE, State.BEHIND):
        database = with_drift_check(example(state), status)
        assert database.kind == State.DRIFT
        assert "employees.hire_date" in database.summary()
    for state in (State.UNREACHABLE, State.PARTIAL, State.UNKNOWN_REVISION):
        assert with_drift_check(example(state), status).kind == state
    clean = SimpleNamespace(**{**found.__dict__, "stamp_differences": ""})
    database = with_drift_check(example(State.UP_TO_DATE), DriftStatus(clean, None))
    assert database.kind == State.UP_TO_DATE


def test_behind_head_a_difference_from_the_models_is_not_drift():
    """After a deliberate downgrade the models (head's) differ from the
    database: "behind", not drift; at head the same finding is drift."""
    from datetime import datetime
    from types import SimpleNamespace

    from app.dbadmin.core.drift import DriftStatus, with_drift_check

    check = SimpleNamespace(
        checked_at=datetime(2026, 1, 1),
        stamp_error=None,
        stamp_differences="",
        model_differences="missing column employees.email",
    )
    behind = with_drift_check(example(State.BEHIND), DriftStatus(check, None))
    assert behind.kind == State.BEHIND
    at_head = with_drift_check(example(State.UP_TO_DATE), DriftStatus(check, None))
    assert at_head.kind == State.DRIFT
    assert "the models: missing column employees.email" in at_head.summary()
