"""The one state model (app/dbadmin/core/state.py): every state has its row,
and every surface renders from it."""

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
