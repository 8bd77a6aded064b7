"""The base of every employee data view: Flask-Admin's list, details, edit and
delete, made fast and safe at the real size (300,000 employees, 2.8M
salaries).

- The list pages by keyset (pagination.py), counts cheaply (counting.py),
  sorts only on the primary key and indexed columns, searches and filters
  with conditions an index can answer (filters.py).
- Ids, sorts and page tokens from the URL are checked: a bad one is a 400.
- A primary key can't be changed on edit; a database error on save becomes a
  message next to its field (dberrors.py), never SQL text.
- The delete confirmation says what ON DELETE CASCADE removes with the row.
- Every create, edit and delete is recorded in the change history
  (history.py), in its own transaction; messages name the record.
- The pages map only the columns the database has (schema.py): a database
  behind the models is shown, never a 503.
- The CSV export streams every row the list's search and filters select,
  in the list's sort; an export beyond EXPORT_MAX_ROWS (when an operator sets
  one) is refused before it starts, never cut short.
"""

import csv
import io
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    request,
    session,
    stream_with_context,
)
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.model.template import DeleteRowAction, EditRowAction, ViewRowAction
from flask_admin.tools import iterdecode, iterencode
from sqlalchemy.exc import DBAPIError

from app.auth.admin_views import SecureModelView
from app.employees import counting, dberrors, history, schema
from app.employees.counting import capped_count, table_count
from app.employees.filters import ConditionFilter, number_matches, typed_number
from app.employees.pagination import (
    LAST,
    PageTokenError,
    SortKey,
    TokenCodec,
    fetch_page,
)
from app.extensions import db
from app.url_quoting import QUERY_SAFE
from app.validation import parse_integer

# Flask-Admin's own messages, which name no record: each is replaced with one
# that does ("Employee 10001 Georgi Facello saved.").
GENERIC_SUCCESS = re.compile(
    r"Record was successfully (saved|created|deleted)\.|"
    r"\d+ records were successfully deleted\."
)
GENERIC_FAILURE = frozenset({"Failed to save record.", "Failed to create record."})
NAMED_AT_MOST = 5

KEY_IS_READ_ONLY = "The key of a row can't be changed. Create a new row instead."
EXPORT_BATCH = 1000
# Far beyond any list's columns: the number a sort link carries.
MAX_SORT_INDEX = 1000
# The row actions the list renders itself (templates/employees/list.html);
# any other (a popup, an extra action) through Flask-Admin's macro.
ROW_ACTION_KINDS = {
    ViewRowAction: "view",
    EditRowAction: "edit",
    DeleteRowAction: "delete",
}
ROW_LINK_ENDPOINTS = {"view": ".details_view", "edit": ".edit_view"}


@dataclass
class ListedRow:
    """A row as the list shows it (EmployeeDataView.listed_rows)."""

    pk: str
    cells: list  # [(column, value shown)]
    links: dict  # {"view" or "edit": URL}


def plural(count: int, noun: str) -> str:
    if count == 1:
        return f"1 {noun}"
    if noun.endswith("y"):
        return f"{count:,} {noun[:-1]}ies"
    return f"{count:,} {noun}s"


class EmployeeDataView(SecureModelView):
    list_template = "employees/list.html"
    details_template = "employees/details.html"
    edit_template = "employees/edit.html"
    create_template = "employees/create.html"
    can_view_details = True
    can_export = True
    export_types = ["csv"]
    named_filter_urls = True
    page_size = 50
    # The bulk delete goes through delete_model row by row, which records
    # each delete and its cascade in the change history (a fast mass delete
    # would bypass it).
    fast_mass_delete = False

    # The list's sort choices besides the primary key: indexed columns only.
    sort_columns: tuple[str, ...] = ()
    # A sort on the first column of a composite index follows the index's
    # other columns too, so that it pages in the index's order.
    sort_paths: dict[str, tuple[str, ...]] = {}
    # Why a listed column can't be sorted, when not for want of an index.
    unsortable_reasons: dict[str, str] = {}
    # The table whose statistics estimate this list's rows (views have none).
    estimate_table: str | None = None
    # What a row is called, in the delete confirmation.
    noun = "row"
    # What ON DELETE CASCADE removes with a row, for the bulk delete question.
    cascades: tuple[str, ...] = ()
    search_help: str | None = None

    def __init__(self, model, session, **kwargs) -> None:
        key = sa.inspect(model).primary_key
        self.key_attributes = tuple(c.key for c in key)
        # The details page shows the key too (Flask-Admin hides it by default).
        if self.column_details_list is None:
            self.column_details_list = self.column_list
        self.column_sortable_list = tuple(
            dict.fromkeys((self.key_attributes[0], *self.sort_columns))
        )
        super().__init__(model, session, **kwargs)

    # -- the schema the database has (schema.py) -----------------------------

    def _handle_view(self, name, **kwargs):
        refused = super()._handle_view(name, **kwargs)
        if refused is not None:
            return refused
        gap = schema.schema_gap()
        if gap and gap.unusable(self.model):
            return self.render("employees/needs_revision.html", gap=gap), 409
        return None

    def schema_plan_url(self, revision: str) -> str:
        return schema.plan_url(revision)

    def sorting_note(self) -> str:
        """Which listed columns sort and which don't, and why: a sort pages
        by its column's index, and a column without one would read the
        whole table for every page."""
        sortable = set(self.column_sortable_list)
        by_reason: dict[str, list[str]] = {}
        for name, label in self._shown(self._list_columns):
            if name not in sortable:
                reason = self.unsortable_reasons.get(name, "no index")
                by_reason.setdefault(reason, []).append(str(label))
        if not by_reason:
            return ""
        parts = [f"{', '.join(labels)} ({why})" for why, labels in by_reason.items()]
        return "Sort by a column with an index. Not sortable: " + "; ".join(parts) + "."

    def hidden_columns(self) -> tuple[str, ...]:
        """This model's columns the database does not have yet."""
        return schema.hidden_of(self.model)

    def get_query(self):
        # Its count and the export select from it as a subquery, which the
        # ORM hook of schema.py does not see into: the columns are left out
        # here too.
        query = super().get_query()
        hidden = self.hidden_columns()
        if hidden:
            query = query.options(*(so.defer(getattr(self.model, k)) for k in hidden))
        return query

    def _shown(self, columns):
        hidden = self.hidden_columns()
        if not hidden:
            return columns
        return [c for c in columns if c[0] not in hidden]

    def _without_hidden_fields(self, form):
        for name in self.hidden_columns():
            if name in form:
                del form[name]
        return form

    def create_form(self, obj=None):
        return self._without_hidden_fields(super().create_form(obj))

    # -- messages that name the record ---------------------------------------

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        return self._named_messages(super().create_view())

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        return self._named_messages(super().edit_view())

    @expose("/delete/", methods=("POST",))
    def delete_view(self):
        return self._named_messages(super().delete_view())

    @expose("/action/", methods=("POST",))
    def action_view(self):
        return self._named_messages(super().action_view())

    def _named_messages(self, response):
        """Flask-Admin's messages of this request, with the records named
        (before a redirect; a page rendered in the request did it first)."""
        self._name_the_records()
        return response

    def _name_the_records(self) -> None:
        done = g.pop("data_messages", [])
        flashes = session.get("_flashes")
        if not flashes:
            return
        rewritten = []
        for category, message in flashes:
            if GENERIC_SUCCESS.fullmatch(message) and done:
                shown = done[:NAMED_AT_MOST]
                more = len(done) - len(shown)
                message = "; ".join(shown) + (f"; and {more:,} more" if more else "")
                message += "."
            elif message in GENERIC_FAILURE:
                record = g.get("data_record")
                what = (
                    self.record_label(record)
                    if record is not None
                    else f"The new {self.noun}"
                )
                message = f"{what} was not saved: see the message by each field."
            rewritten.append((category, message))
        session["_flashes"] = rewritten

    # -- search ---------------------------------------------------------------

    def init_search(self) -> bool:
        return self.search_help is not None

    def search_placeholder(self) -> str | None:
        return self.search_help

    def search_condition(self, term: str) -> sa.ColumnElement:
        """Rows matching the search box. Default: emp_no, exactly."""
        number = typed_number(term)
        if number is None:
            flash("Search by employee number: type a number.", "warning")
            return sa.false()
        return number_matches(self.model.emp_no, number)

    def search_query(self, query, term: str):
        """The list's query narrowed by the search box."""
        return query.filter(self.search_condition(term))

    def narrowed_count(self, query, search: str | None, filters):
        """The count of a searched or filtered list: exact up to a bound."""
        return capped_count(query)

    # -- the list -------------------------------------------------------------

    def _sort_from_request(self) -> tuple[str | None, int | None, bool]:
        """(sort attribute, its index, descending), 400 for a bad one."""
        raw_sort = request.args.get("sort")
        raw_desc = request.args.get("desc")
        if raw_desc not in (None, "0", "1"):
            abort(400, "desc must be 0 or 1")
        if raw_sort is None:
            return None, None, raw_desc == "1"
        index = parse_integer(raw_sort, 0, MAX_SORT_INDEX)
        if index is None:
            abort(400, "sort must be the number of a sortable column")
        column = self._get_column_by_idx(index)
        if column is None or not self.is_sortable(column[0]):
            abort(400, "this column can't be sorted")
        return column[0], index, raw_desc == "1"

    def sort_key(self, sort: str | None, descending: bool) -> SortKey:
        first = sort or self.key_attributes[0]
        path = self.sort_paths.get(first, (first,))
        names = tuple(dict.fromkeys(path + self.key_attributes))
        mapper = sa.inspect(self.model)
        columns = tuple(mapper.columns[name] for name in names)
        return SortKey(names, columns, descending)

    def filtered_query(self, search: str | None, filters) -> tuple:
        """The list's query with the search and filters, and whether any."""
        query = self.get_query()
        narrowed = False
        if search and search.strip() and self._search_supported:
            query = self.search_query(query, search.strip())
            narrowed = True
        for index, _name, value in filters or ():
            flt = self._filters[index]
            query = flt.apply(query, flt.clean(value))
            narrowed = True
        return query, narrowed

    def _get_filter_groups(self):
        groups = super()._get_filter_groups()
        if not groups:
            return groups
        for items in groups.values():
            for item in items:
                flt = self._filters[item["index"]]
                if isinstance(flt, ConditionFilter) and flt.dynamic_options:
                    item["options"] = flt.current_options()
        return groups

    def _get_list_url(self, view_args) -> str:
        # Flask-Admin's, without page_size (fixed here) and with the page token.
        kwargs = dict(
            page=view_args.page or None,
            sort=view_args.sort,
            desc=1 if view_args.sort_desc else None,
            search=view_args.search,
        )
        kwargs.update(view_args.extra_args)
        kwargs.update(self._get_filters(view_args.filters))
        return self.get_url(".index_view", **kwargs)

    def _codec(self) -> TokenCodec:
        return TokenCodec(current_app.config["SECRET_KEY"], self.endpoint)

    @expose("/")
    def index_view(self):
        sort, sort_index, descending = self._sort_from_request()
        view_args = self._get_list_extra_args()
        view_args = view_args.clone(page=None, sort=sort_index, sort_desc=descending)
        key = self.sort_key(sort, descending)
        sort_spec = f"{sort_index}:{int(descending)}"
        codec = self._codec()
        try:
            token = codec.decode(request.args.get("page"), sort_spec, key)
        except PageTokenError as exc:
            abort(400, str(exc))

        query, narrowed = self.filtered_query(view_args.search, view_args.filters)
        page, cascades = self.fetch_page_and_cascades(query, key, token)
        if narrowed:
            count = self.narrowed_count(query, view_args.search, view_args.filters)
        else:
            table = self.estimate_table or self.table_name
            count = table_count(db.session, query, table)

        def url(page_token: str | None) -> str:
            return self._get_list_url(view_args.clone(page=page_token))

        links = {}
        if page.has_previous:
            links["first"] = url(None)
            if page.rows:
                values = key.values_of(page.rows[0])
                links["prev"] = url(codec.encode("before", sort_spec, values))
        if page.has_next:
            if page.rows:
                values = key.values_of(page.rows[-1])
                links["next"] = url(codec.encode("after", sort_spec, values))
            links["last"] = url(LAST)
        current_token = request.args.get("page") or None

        def sort_url(column, invert=False, desc=None):
            if not desc and invert and not descending:
                desc = 1
            return self._get_list_url(
                view_args.clone(page=None, sort=column, sort_desc=desc)
            )

        return_url = url(current_token)
        list_columns = self._shown(self._list_columns)
        row_actions = self.get_list_row_actions()
        actions, actions_confirmation = self.get_actions_list()
        clear_search_url = self._get_list_url(
            view_args.clone(page=None, search=None, filters=None)
        )
        return self.render(
            self.list_template,
            data=page.rows,
            page_kind=page.kind,
            pager_links=links,
            list_forms={},
            delete_form=self.delete_form() if self.can_delete else None,
            action_form=self.action_form() if actions else None,
            list_columns=list_columns,
            sortable_columns=self._sortable_columns,
            editable_columns=self.column_editable_list,
            list_row_actions=row_actions,
            row_action_kinds=[(ROW_ACTION_KINDS.get(type(a)), a) for a in row_actions],
            listed=self.listed_rows(page.rows, list_columns, row_actions, return_url),
            delete_url=self.get_url(".delete_view") if self.can_delete else None,
            count=str(count),
            row_count=count,
            pager_url=None,
            num_pages=None,
            can_set_page_size=False,
            page_size_url=None,
            page=0,
            page_size=self.page_size,
            default_page_size=self.page_size,
            sort_column=sort_index,
            sort_desc=descending,
            sort_url=sort_url,
            search_supported=self._search_supported,
            clear_search_url=clear_search_url,
            search=view_args.search,
            search_placeholder=self.search_placeholder(),
            filters=self._filters,
            filter_groups=self._get_filter_groups(),
            active_filters=view_args.filters,
            filter_args=self._get_filters(view_args.filters),
            actions=actions,
            actions_confirmation=actions_confirmation,
            enumerate=enumerate,
            get_pk_value=self.get_pk_value,
            get_value=self.get_list_value,
            return_url=return_url,
            extra_args=view_args.extra_args,
            delete_confirmation=self.delete_confirmations(page.rows, cascades),
            export_max_rows=self.export_max_rows,
        )

    def fetch_page_and_cascades(self, query, key: SortKey, token) -> tuple:
        """The page's rows and their cascade_counts, read by one statement:
        the counts are columns of the page's query, correlated to each row
        (a statement of their own was one more round trip to the server)."""
        columns = self.cascade_columns()
        if not columns:
            return fetch_page(query, key, self.page_size, token), {}
        counted = query.add_columns(*(count for _noun, count in columns))
        page = fetch_page(counted, key, self.page_size, token)
        nouns = [noun for noun, _count in columns]
        cascades = {
            self.get_pk_value(row): list(zip(counts, nouns, strict=True))
            for row, *counts in page.rows
        }
        page.rows = [row for row, *_counts in page.rows]
        return page, cascades

    def listed_rows(self, rows, columns, row_actions, return_url: str) -> list:
        """What the list shows of each row (templates/employees/list.html),
        built here rather than by template calls per row and cell, which at
        50 rows were most of the page's time:

        - its key (get_pk_value);
        - each listed column's value, as get_list_value gives it (the
          formatters get no template context, as in Flask-Admin's export),
          read straight from the row where no formatter applies;
        - its details and edit links, as Flask-Admin's row actions build them
          (id, then url), with one url_for per page for each, not per row.
        """
        back = urlencode({"url": return_url}, safe=QUERY_SAFE)
        bases = {
            kind: self.get_url(ROW_LINK_ENDPOINTS[kind])
            for kind in map(ROW_ACTION_KINDS.get, map(type, row_actions))
            if kind in ROW_LINK_ENDPOINTS
        }
        formatters = self.column_formatters
        type_formatters = self.column_type_formatters
        shown = self.cell_reader(
            formatters,
            type_formatters,
            lambda row, name: self._get_list_value(
                None, row, name, formatters, type_formatters
            ),
        )
        listed = []
        for row in rows:
            pk = self.get_pk_value(row)
            query = f"?{urlencode({'id': pk}, safe=QUERY_SAFE)}&{back}"
            listed.append(
                ListedRow(
                    pk,
                    [(name, shown(row, name)) for name, _label in columns],
                    {kind: base + query for kind, base in bases.items()},
                )
            )
        return listed

    def cell_reader(self, formatters, type_formatters, formatted):
        """cell(row, name): what `formatted(row, name)` gives (Flask-Admin's
        list or export value), read straight from the row where no formatter
        applies (a column formatter, a choices map, or a type formatter such
        as None's or an Enum's): the hot loop of the list and of the
        export."""
        formatters = formatters or {}
        type_formatters = tuple(type_formatters or {})
        plain_types: dict[type, bool] = {}

        def cell(row, name):
            if name in formatters or name in self._column_choices_map:
                return formatted(row, name)
            value = getattr(row, name)
            kind = type(value)
            plain = plain_types.get(kind)
            if plain is None:
                plain = plain_types[kind] = not isinstance(value, type_formatters)
            return value if plain else formatted(row, name)

        return cell

    # -- ids ------------------------------------------------------------------

    def parse_id(self, raw) -> tuple:
        """The primary key from an `id` argument ("10001,1986-06-26" for a
        composite key), each part of its column's type; 400 when malformed."""
        if not isinstance(raw, str):
            abort(400, "give one id")
        parts = iterdecode(raw)
        columns = sa.inspect(self.model).primary_key
        if len(parts) != len(columns):
            abort(400, f"an id has {len(columns)} part(s) here")
        try:
            return tuple(
                _typed(part, column)
                for part, column in zip(parts, columns, strict=True)
            )
        except ValueError:
            abort(400, "this id is not valid")

    def get_one(self, id):
        key = self.parse_id(id)
        record = db.session.get(self.model, key if len(key) > 1 else key[0])
        g.data_record = record  # named by a failed save's message
        return record

    @property
    def table_name(self) -> str:
        return sa.inspect(self.model).local_table.name

    def record_key(self, model) -> str:
        """The record's key as its URL's id has it ("10001,1986-06-26")."""
        return iterencode([getattr(model, name) for name in self.key_attributes])

    def record_label(self, model) -> str:
        """What a message and the change history call a record."""
        if any(getattr(model, name, None) is None for name in self.key_attributes):
            return f"The new {self.noun}"
        key = " ".join(str(getattr(model, name)) for name in self.key_attributes)
        return f"{self.noun[:1].upper()}{self.noun[1:]} {key}"

    def row_url(self, endpoint: str, *key) -> str:
        return self.get_url(f"{endpoint}.details_view", id=iterencode(key))

    # -- edit -----------------------------------------------------------------

    def edit_form(self, obj=None):
        form = self._without_hidden_fields(super().edit_form(obj))
        for name in self.key_attributes:
            if name in form:
                field = form[name]
                field.render_kw = {**(field.render_kw or {}), "readonly": True}
                field.description = "The key of the row: it can't be changed."
        return form

    def update_model(self, form, model) -> bool:
        changed = [
            name
            for name in self.key_attributes
            if name in form and form[name].data != getattr(model, name)
        ]
        if changed:
            for name in changed:
                form[name].errors = [*form[name].errors, KEY_IS_READ_ONLY]
                form[name].data = getattr(model, name)
            flash(
                f"{self.record_label(model)} was not saved: its key can't be changed.",
                "danger",
            )
            return False
        return bool(self._save(form, model, is_created=False))

    def create_model(self, form):
        model = self.build_new_instance()
        return self._save(form, model, is_created=True)

    def _out_of_range(self, form) -> dict:
        """Integers the column's type cannot hold (SQLite raises on them
        before the database can say so; MySQL would store a clipped value)."""
        errors = {}
        for column in sa.inspect(self.model).local_table.columns:
            value = form.data.get(column.name)
            if not isinstance(column.type, sa.Integer) or not isinstance(value, int):
                continue
            bits = 64 if isinstance(column.type, sa.BigInteger) else 32
            if isinstance(column.type, sa.SmallInteger):
                bits = 16
            low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
            if not low <= value <= high:
                errors[column.name] = f"must be between {low:,} and {high:,}"
        return errors

    def _save(self, form, model, is_created: bool):
        session = db.session
        out_of_range = self._out_of_range(form)
        if out_of_range:
            self._show_errors(form, out_of_range, self.record_label(model))
            return False
        hidden = self.hidden_columns()
        before = {} if is_created else history.snapshot(model, hidden)
        try:
            form.populate_obj(model)
            if is_created:
                session.add(model)
            self._on_model_change(form, model, is_created)
            after = history.snapshot(model, hidden)
            if is_created:
                after = {k: v for k, v in after.items() if v is not None}
            changes = history.differences(before, after)
            label = self.record_label(model)
            if changes:
                history.record(
                    history.CREATE if is_created else history.EDIT,
                    self.table_name,
                    self.record_key(model),
                    label,
                    changes,
                )
            session.commit()
        except DBAPIError as exc:
            values = {**sa.inspect(model).dict, **form.data}
            session.rollback()
            table = sa.inspect(self.model).local_table
            self._show_errors(
                form,
                dberrors.describe(exc, table, values, session),
                self.record_label(model),
            )
            return False
        self.after_model_change(form, model, is_created)
        verb = "created" if is_created else "saved" if changes else "unchanged"
        g.setdefault("data_messages", []).append(f"{label} {verb}")
        return model

    def _show_errors(self, form, errors: dict, label: str = "The row") -> None:
        for name, message in errors.items():
            if name is not None and name in form:
                form[name].errors = [*form[name].errors, message]
                flash(f"{label} was not saved: see the message by the field.", "danger")
            else:
                flash(f"{label} was not saved: {message}", "danger")

    # -- delete ---------------------------------------------------------------

    def cascade_columns(self) -> list[tuple[str, sa.ScalarSelect]]:
        """[(noun, the count of one table's rows that ON DELETE CASCADE
        removes with a row of this view, correlated to that row)]: read with
        the list's own page query (one statement for the rows and their
        delete questions), or alone by cascade_counts. Default: none."""
        return []

    def cascade_counts(self, rows) -> dict:
        """{pk value: [(count, noun), ...]} of the rows ON DELETE CASCADE
        removes with each row: one query, on the session's connection (Core:
        it loads no entity, so the schema hooks have nothing to defer)."""
        columns = self.cascade_columns()
        if not columns or not rows:
            return {}
        (key,) = sa.inspect(self.model).primary_key  # the views with cascades
        statement = sa.select(key, *(count for _noun, count in columns)).where(
            key.in_([getattr(row, key.key) for row in rows])
        )
        counts = {k: found for k, *found in db.session.connection().execute(statement)}
        nouns = [noun for noun, _count in columns]
        return {
            self.get_pk_value(row): list(
                zip(counts.get(getattr(row, key.key), ()), nouns, strict=False)
            )
            for row in rows
        }

    def delete_confirmations(self, rows, cascades: dict | None = None) -> dict:
        """{pk value: the question the delete button asks} for these rows
        (cascades: their cascade_counts, when already read)."""
        if cascades is None:
            cascades = self.cascade_counts(rows)
        questions = {}
        for row in rows:
            pk = self.get_pk_value(row)
            parts = [plural(1, self.noun)] + [
                plural(n, noun) for n, noun in cascades.get(pk, ()) if n
            ]
            questions[pk] = f"Delete {', '.join(parts)}? This can't be undone."
        return questions

    def delete_model(self, model) -> bool:
        """Delete one record, and record it in the change history with the
        rows ON DELETE CASCADE removes with it (counted first, in the same
        transaction). The bulk delete comes here row by row
        (fast_mass_delete is off), so every delete is recorded."""
        label = self.record_label(model)
        try:
            self.on_model_delete(model)
            cascade = [
                (noun, count)
                for count, noun in self.cascade_counts([model]).get(
                    self.get_pk_value(model), ()
                )
                if count
            ]
            history.record(
                history.DELETE,
                self.table_name,
                self.record_key(model),
                label,
                history.differences(history.snapshot(model, self.hidden_columns()), {}),
                cascade,
            )
            db.session.delete(model)
            db.session.commit()
        except DBAPIError:
            db.session.rollback()
            flash(f"{label} was not deleted: the database refused it.", "danger")
            return False
        self.after_model_delete(model)
        removed = ", ".join(plural(count, noun) for noun, count in cascade)
        g.setdefault("data_messages", []).append(
            f"{label} deleted" + (f", with {removed}" if removed else "")
        )
        return True

    @action("delete", "Delete")
    def action_delete(self, ids):
        for id in ids:
            self.parse_id(id)  # a malformed id is a 400, not a 500
        return super().action_delete(ids)

    def get_actions_list(self):
        actions, confirmations = super().get_actions_list()
        if "delete" in confirmations or any(name == "delete" for name, _ in actions):
            question = f"Delete the selected {plural(2, self.noun)[2:]}?"
            if self.cascades:
                question += f" Their {', '.join(self.cascades)} are deleted too."
            confirmations["delete"] = question + " This can't be undone."
        return actions, confirmations

    # -- details --------------------------------------------------------------

    def details_extra(self, model) -> dict:
        """More for the details page (histories, counts, links)."""
        return {}

    def render(self, template, **kwargs):
        self._name_the_records()
        gap = schema.schema_gap()
        if gap:
            kwargs.setdefault("gap", gap)
            if "details_columns" in kwargs:
                kwargs["details_columns"] = self._shown(kwargs["details_columns"])
        if template == self.details_template and "model" in kwargs:
            model = kwargs["model"]
            kwargs.update(self.details_extra(model))
            kwargs["delete_question"] = self.delete_confirmations([model])[
                self.get_pk_value(model)
            ]
            kwargs["delete_form"] = self.delete_form() if self.can_delete else None
            # (A SQL view is read only: nothing of its rows is ever changed.)
            writable = self.allow_create or self.allow_edit or self.allow_delete
            kwargs["changes"] = (
                history.history_of(self.table_name, self.record_key(model))
                if writable
                else None
            )
        return super().render(template, **kwargs)

    # -- export ---------------------------------------------------------------

    @property
    def export_max_rows(self) -> int | None:
        """The operator's cap on an export's rows (None: no cap)."""
        return current_app.config.get("EXPORT_MAX_ROWS")

    @expose("/export/<export_type>/")
    def export(self, export_type):
        if export_type != "csv":
            abort(404)
        sort, _index, descending = self._sort_from_request()
        view_args = self._get_list_extra_args()
        query, _narrowed = self.filtered_query(view_args.search, view_args.filters)
        key = self.sort_key(sort, descending)
        columns = self._shown(self._export_columns)

        cap = self.export_max_rows
        if cap is not None and capped_count(query, cap).capped:
            # Refused before a byte is sent, never cut short: the file would
            # look whole.
            total = counting.keys_only(query).order_by(None).count()
            flash(
                f"The export was refused: it would hold {plural(total, 'row')}, "
                f"more than the {cap:,} allowed here. Narrow the list with the "
                "search or a filter (emp_no, department, dates), then export.",
                "danger",
            )
            return redirect(self._get_list_url(view_args))

        engine = db.engine

        def batches():
            # Batches by keyset on a connection of the export's own, closed
            # when the stream ends: memory holds one batch, and no query runs
            # longer than one batch does, however many rows the export holds.
            # A row changed while the export runs is written as it was when
            # its batch was read.
            after = None
            with engine.connect() as conn:
                while True:
                    batch_query = query
                    if after is not None:
                        batch_query = query.filter(key.beyond(after))
                    statement = batch_query.order_by(*key.order_by())
                    batch = conn.execute(statement.limit(EXPORT_BATCH).statement)
                    batch = batch.all()
                    # Each batch in a transaction of its own: one held for
                    # the whole export would keep MySQL's metadata lock on
                    # the table, and a migration's ALTER (with every query
                    # queued behind it) would wait for the export to end.
                    conn.rollback()
                    yield batch
                    if len(batch) < EXPORT_BATCH:
                        return
                    after = key.values_of(batch[-1])
                    # Under gevent workers, lets the worker's other requests
                    # and its heartbeat run between two batches: a sleep of 0
                    # would switch greenlets without running the event loop's
                    # timers, and gunicorn would kill the worker as silent.
                    # (A sync worker sleeps 0.1 ms: 0.3 s in 2.8M rows.)
                    time.sleep(0.0001)

        cell = self.cell_reader(
            self.column_formatters_export,
            self.column_type_formatters_export,
            self.get_export_value,
        )

        def generate():
            # One chunk per batch (a write per row would cost a system call
            # each). An error after the first chunk (the database lost, say)
            # raises here, and gunicorn ends the connection without the
            # chunked encoding's last chunk: browsers and curl report the
            # download as failed, never as a shorter file.
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow([name for _c, name in columns])
            for batch in batches():
                writer.writerows(
                    [_csv_safe(cell(row, c)) for c, _n in columns] for row in batch
                )
                yield out.getvalue()
                out.seek(0)
                out.truncate()
            yield out.getvalue()

        filename = f"{self.endpoint}.csv"
        return Response(
            stream_with_context(generate()),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename={filename}"},
        )


# What a spreadsheet reads as the start of a formula (OWASP's CSV injection
# list), and their full-width forms, which spreadsheets take for them too.
FORMULA_SIGNS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")  # = + - @ ＝ ＋ － ＠
# OWASP names these as dangerous first characters themselves.
DANGEROUS_FIRST = frozenset("\t\r\n")


def _is_blank(char: str) -> bool:
    """Whitespace (tab, no-break space, ideographic space ...) or a control or
    format character (NUL, escape, zero-width space, BOM): what a spreadsheet
    may skip before it looks for a formula sign."""
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf")


def _csv_safe(value):
    """A cell a spreadsheet shows as text, never runs as a formula, following
    OWASP's CSV injection guidance: a cell whose first character, or first
    one after leading whitespace and control characters, is a formula sign,
    or which starts with a tab or a line break, gets a leading apostrophe.
    A plain number (-5, +1.5) stays as it is."""
    text = "" if value is None else str(value)
    if text[:1].isalnum():
        return text  # the common case: a letter or a digit first
    start = 0
    while start < len(text) and _is_blank(text[start]):
        start += 1
    formula = text[start : start + 1] in FORMULA_SIGNS
    if formula and start == 0 and _is_number(text):
        return text
    if formula or text[:1] in DANGEROUS_FIRST:
        return "'" + text
    return text


# A plain decimal number in ASCII (float() also takes "-inf", "+nan", "1_0"
# and other scripts' digits, which a spreadsheet does not read as numbers).
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def _is_number(text: str) -> bool:
    return PLAIN_NUMBER.fullmatch(text) is not None


def _typed(text: str, column):
    python_type = column.type.python_type
    if python_type is date:
        return date.fromisoformat(text)
    if python_type is int:
        # A bigger one than parse_integer takes overflows SQLite's driver (a
        # 500, not a 400).
        value = parse_integer(text)
        if value is None:
            raise ValueError(text)
        return value
    return text
