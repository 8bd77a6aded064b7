"""Build a legacy "employees" database the way it existed before Headway.

The tables are made with the plain DDL a human wrote years ago, not with the
migrations, so that Headway can be tried (and tested) against a database it has
never seen: baseline, stamp, verify. The rows are synthetic but shaped like the
real employees sample data (docs: ../shared/legacy/existing-schema.md), and
deterministic: the same scale and seed always give byte-identical rows.
"""

import functools
import random
from collections.abc import Iterator
from datetime import date, timedelta

import sqlalchemy as sa

from app.errors import HeadwayError

LEGACY_TABLES = (
    "employees",
    "departments",
    "dept_manager",
    "dept_emp",
    "titles",
    "salaries",
)
LEGACY_VIEWS = ("dept_emp_latest_date", "current_dept_emp")

# Like the classic employees.sql, no character set or collation: the tables
# take the database's defaults (test_db sets only the storage engine).
_MYSQL_TABLE_OPTIONS = "ENGINE=InnoDB"

# Written like the classic employees.sql: the foreign keys and the dept_no
# indexes are unnamed, so the server generates `*_ibfk_N` and `dept_no` itself,
# exactly as it did for the real database.
_MYSQL_DDL = [
    f"""
CREATE TABLE employees (
    emp_no      INT             NOT NULL,
    birth_date  DATE            NOT NULL,
    first_name  VARCHAR(14)     NOT NULL,
    last_name   VARCHAR(16)     NOT NULL,
    gender      ENUM('M','F')   NOT NULL,
    hire_date   DATE            NOT NULL,
    PRIMARY KEY (emp_no)
) {_MYSQL_TABLE_OPTIONS}""",
    f"""
CREATE TABLE departments (
    dept_no     CHAR(4)         NOT NULL,
    dept_name   VARCHAR(40)     NOT NULL,
    PRIMARY KEY (dept_no),
    UNIQUE KEY (dept_name)
) {_MYSQL_TABLE_OPTIONS}""",
    f"""
CREATE TABLE dept_manager (
    emp_no      INT             NOT NULL,
    dept_no     CHAR(4)         NOT NULL,
    from_date   DATE            NOT NULL,
    to_date     DATE            NOT NULL,
    FOREIGN KEY (emp_no)  REFERENCES employees (emp_no)    ON DELETE CASCADE,
    FOREIGN KEY (dept_no) REFERENCES departments (dept_no) ON DELETE CASCADE,
    PRIMARY KEY (emp_no, dept_no)
) {_MYSQL_TABLE_OPTIONS}""",
    f"""
CREATE TABLE dept_emp (
    emp_no      INT             NOT NULL,
    dept_no     CHAR(4)         NOT NULL,
    from_date   DATE            NOT NULL,
    to_date     DATE            NOT NULL,
    FOREIGN KEY (emp_no)  REFERENCES employees (emp_no)    ON DELETE CASCADE,
    FOREIGN KEY (dept_no) REFERENCES departments (dept_no) ON DELETE CASCADE,
    PRIMARY KEY (emp_no, dept_no)
) {_MYSQL_TABLE_OPTIONS}""",
    f"""
CREATE TABLE titles (
    emp_no      INT             NOT NULL,
    title       VARCHAR(50)     NOT NULL,
    from_date   DATE            NOT NULL,
    to_date     DATE,
    FOREIGN KEY (emp_no) REFERENCES employees (emp_no) ON DELETE CASCADE,
    PRIMARY KEY (emp_no, title, from_date)
) {_MYSQL_TABLE_OPTIONS}""",
    f"""
CREATE TABLE salaries (
    emp_no      INT             NOT NULL,
    salary      INT             NOT NULL,
    from_date   DATE            NOT NULL,
    to_date     DATE            NOT NULL,
    FOREIGN KEY (emp_no) REFERENCES employees (emp_no) ON DELETE CASCADE,
    PRIMARY KEY (emp_no, from_date)
) {_MYSQL_TABLE_OPTIONS}""",
    """
CREATE VIEW dept_emp_latest_date AS
    SELECT emp_no, MAX(from_date) AS from_date, MAX(to_date) AS to_date
    FROM dept_emp
    GROUP BY emp_no""",
    """
CREATE VIEW current_dept_emp AS
    SELECT l.emp_no, dept_no, l.from_date, l.to_date
    FROM dept_emp d
        INNER JOIN dept_emp_latest_date l
        ON d.emp_no=l.emp_no AND d.from_date=l.from_date AND l.to_date = d.to_date""",
]

# The same schema, adapted by hand for SQLite (no ENUM: a CHECK instead).
_SQLITE_DDL = [
    """
CREATE TABLE employees (
    emp_no      INT             NOT NULL,
    birth_date  DATE            NOT NULL,
    first_name  VARCHAR(14)     NOT NULL,
    last_name   VARCHAR(16)     NOT NULL,
    gender      VARCHAR(1)      NOT NULL CHECK (gender IN ('M','F')),
    hire_date   DATE            NOT NULL,
    PRIMARY KEY (emp_no)
)""",
    """
CREATE TABLE departments (
    dept_no     CHAR(4)         NOT NULL,
    dept_name   VARCHAR(40)     NOT NULL,
    PRIMARY KEY (dept_no),
    UNIQUE (dept_name)
)""",
    """
CREATE TABLE dept_manager (
    emp_no      INT             NOT NULL,
    dept_no     CHAR(4)         NOT NULL,
    from_date   DATE            NOT NULL,
    to_date     DATE            NOT NULL,
    FOREIGN KEY (emp_no)  REFERENCES employees (emp_no)    ON DELETE CASCADE,
    FOREIGN KEY (dept_no) REFERENCES departments (dept_no) ON DELETE CASCADE,
    PRIMARY KEY (emp_no, dept_no)
)""",
    """
CREATE TABLE dept_emp (
    emp_no      INT             NOT NULL,
    dept_no     CHAR(4)         NOT NULL,
    from_date   DATE            NOT NULL,
    to_date     DATE            NOT NULL,
    FOREIGN KEY (emp_no)  REFERENCES employees (emp_no)    ON DELETE CASCADE,
    FOREIGN KEY (dept_no) REFERENCES departments (dept_no) ON DELETE CASCADE,
    PRIMARY KEY (emp_no, dept_no)
)""",
    """
CREATE TABLE titles (
    emp_no      INT             NOT NULL,
    title       VARCHAR(50)     NOT NULL,
    from_date   DATE            NOT NULL,
    to_date     DATE,
    FOREIGN KEY (emp_no) REFERENCES employees (emp_no) ON DELETE CASCADE,
    PRIMARY KEY (emp_no, title, from_date)
)""",
    """
CREATE TABLE salaries (
    emp_no      INT             NOT NULL,
    salary      INT             NOT NULL,
    from_date   DATE            NOT NULL,
    to_date     DATE            NOT NULL,
    FOREIGN KEY (emp_no) REFERENCES employees (emp_no) ON DELETE CASCADE,
    PRIMARY KEY (emp_no, from_date)
)""",
    """
CREATE VIEW dept_emp_latest_date AS
    SELECT emp_no, MAX(from_date) AS from_date, MAX(to_date) AS to_date
    FROM dept_emp
    GROUP BY emp_no""",
    """
CREATE VIEW current_dept_emp AS
    SELECT l.emp_no, dept_no, l.from_date, l.to_date
    FROM dept_emp d
        INNER JOIN dept_emp_latest_date l
        ON d.emp_no=l.emp_no AND d.from_date=l.from_date AND l.to_date = d.to_date""",
]

LEGACY_DDL: dict[str, list[str]] = {
    "mysql": [s.strip() for s in _MYSQL_DDL],
    "sqlite": [s.strip() for s in _SQLITE_DDL],
}

EMPLOYEES_PER_SCALE = 10_000
FIRST_EMP_NO = 10001

DEPARTMENTS = (
    ("d001", "Marketing"),
    ("d002", "Finance"),
    ("d003", "Human Resources"),
    ("d004", "Production"),
    ("d005", "Development"),
    ("d006", "Quality Management"),
    ("d007", "Sales"),
    ("d008", "Research"),
    ("d009", "Customer Service"),
)
# Successive managers per department, 24 in all, as in the real data.
MANAGERS_PER_DEPARTMENT = (2, 2, 2, 4, 2, 4, 2, 2, 4)
MANAGER_COUNT = sum(MANAGERS_PER_DEPARTMENT)

# Department sizes roughly follow the real data (Development is the largest).
_DEPT_WEIGHTS = (20, 17, 17, 73, 85, 20, 52, 21, 23)
_DEPT_POOL = tuple(
    dept_no
    for (dept_no, _), weight in zip(DEPARTMENTS, _DEPT_WEIGHTS, strict=True)
    for _ in range(weight)
)

# Career tracks: the first title, then the one a promotion leads to.
_TITLE_TRACKS = (
    *[("Staff", "Senior Staff")] * 4,
    *[("Engineer", "Senior Engineer")] * 4,
    ("Assistant Engineer", "Engineer"),
    ("Senior Engineer", "Technique Leader"),
)

_FIRST_NAMES = (
    "Georgi Bezalel Parto Chirstian Kyoichi Anneke Tzvetan Saniya Sumant "
    "Duangkaew Mary Patricio Eberhardt Berni Guoxiang Kazuhito Cristinel "
    "Kazuhide Lillian Mayuko Ramzi Shahaf Bojan Suzette Prasadram Yongqiao "
    "Divier Domenick Otmar Elvis Karsten Jeong Arif Bader Alain Adamantios "
    "Pradeep Huan Alejandro Weiyi Uri Magy Yishay Mingsen Moss Lucien Zvonko "
    "Florian Basil Yinghua"
).split()
_LAST_NAMES = (
    "Facello Simmel Bamford Koblick Maliniak Preusig Zielinski Kalloufi Peac "
    "Piveteau Sluis Bridgland Terkki Genin Nooteboom Cappelletti Bouloucos "
    "Peha Haddadi Warwick Erde Famili Montemayor Pettey Heyers Berztiss "
    "Reistad Tempesti Herbst Demeyer Joslin Merlo Swan Lortz Brender Dredge "
    "Bernini Lenart Stamatiou Tzvieli Casley Schusler Kambil Syrzycki Baek "
    "Rosenbaum Zschoche Schueller Gargeya Hofting"
).split()

# Date ranges of the real data. Every date below is a day number counted from
# _FIRST_DAY, so the hot loops work on ints and look the ISO text up in a cache.
_FIRST_DAY = date(1952, 1, 1)
_LAST_DAY = date(2004, 12, 31)
_BIRTH_RANGE = (date(1952, 2, 1), date(1965, 2, 1))
_HIRE_RANGE = (date(1985, 1, 1), date(2000, 1, 28))
# The day the real data was taken: salaries run up to it, later rows are current.
_SNAPSHOT = date(2002, 8, 1)
_MANAGER_SWITCH_RANGE = (date(1986, 1, 1), date(2000, 12, 31))
FOREVER = "9999-01-01"

# About 1.1 department assignments, 1.5 titles, 9.5 salaries per employee.
_MOVE_CHANCE = 0.105
_PROMOTION_CHANCE = 0.48
_LEAVER_CHANCE = 0.24
# A first salary in this range, then a raise of up to 7% a year, capped.
_STARTING_SALARY = (38_000, 75_000)
_MAX_RAISE = 0.07
_SALARY_CAP = 158_000

# Employees generated (and committed) per batch: bounds memory on big scales.
_BATCH_EMPLOYEES = 5_000
# Rows per multi-row INSERT on MySQL: well below the default max_allowed_packet.
_ROWS_PER_INSERT = 10_000

_ROW_TEMPLATES = {
    "employees": "(%d,'%s','%s','%s','%s','%s')",
    "departments": "('%s','%s')",
    "dept_manager": "(%d,'%s','%s','%s')",
    "dept_emp": "(%d,'%s','%s','%s')",
    "titles": "(%d,'%s','%s','%s')",
    "salaries": "(%d,%d,'%s','%s')",
}

# Rows per table, as value tuples in column order.
Rows = dict[str, list[tuple]]


def _day(d: date) -> int:
    return (d - _FIRST_DAY).days


@functools.cache
def _calendar() -> tuple[tuple[str, ...], tuple[int, ...]]:
    """ISO text of every day number, and the same day one year later
    (29 February goes to 28 February, like MySQL's DATE_ADD)."""
    days = [_FIRST_DAY + timedelta(n) for n in range(_day(_LAST_DAY) + 1)]
    iso = tuple(d.isoformat() for d in days)
    next_year = []
    for d in days:
        try:
            later = d.replace(year=d.year + 1)
        except ValueError:
            later = d.replace(year=d.year + 1, day=28)
        next_year.append(_day(later))
    return iso, tuple(next_year)


def _plan_managers(
    rng: random.Random, employee_count: int
) -> dict[int, tuple[str, int, int | None]]:
    """Pick the 24 managers: employee index -> (dept_no, from day, to day or
    None while still in charge). Each department's terms follow one another
    from 1985-01-01 to today."""
    managers = rng.sample(range(employee_count), MANAGER_COUNT)
    switch_lo, switch_hi = map(_day, _MANAGER_SWITCH_RANGE)
    terms = {}
    for (dept_no, _), count in zip(DEPARTMENTS, MANAGERS_PER_DEPARTMENT, strict=True):
        switches = sorted(rng.sample(range(switch_lo, switch_hi), count - 1))
        starts = [_day(_HIRE_RANGE[0]), *switches]
        ends: list[int | None] = [*switches, None]
        for start, end in zip(starts, ends, strict=True):
            terms[managers.pop()] = (dept_no, start, end)
    return terms


def _generate(employee_count: int, seed: int) -> Iterator[Rows]:
    """Yield the rows in batches: departments first, then employees with their
    assignments, titles and salaries, then the managers."""
    rng = random.Random(seed)
    iso, next_year = _calendar()
    managers = _plan_managers(rng, employee_count)
    manager_rows = []

    birth_lo, birth_hi = map(_day, _BIRTH_RANGE)
    hire_lo, hire_hi = map(_day, _HIRE_RANGE)
    snapshot = _day(_SNAPSHOT)
    salary_lo, salary_hi = _STARTING_SALARY
    random_ = rng.random
    randint = rng.randint
    choice = rng.choice

    yield {"departments": list(DEPARTMENTS)}

    for batch_start in range(0, employee_count, _BATCH_EMPLOYEES):
        employees, dept_emp, titles, salaries = [], [], [], []
        batch_end = min(batch_start + _BATCH_EMPLOYEES, employee_count)
        for index in range(batch_start, batch_end):
            emp_no = FIRST_EMP_NO + index
            birth = randint(birth_lo, birth_hi)
            hire = randint(hire_lo, hire_hi)
            first_name = choice(_FIRST_NAMES)
            last_name = choice(_LAST_NAMES)
            gender = "M" if random_() < 0.6 else "F"
            manager = managers.get(index)

            if manager is not None:
                # A manager stays, in the department managed, with one title.
                dept_no, term_start, term_end = manager
                hire = min(hire, term_start)
                end, last_to = snapshot, FOREVER
                dept_emp.append((emp_no, dept_no, iso[hire], FOREVER))
                titles.append((emp_no, "Manager", iso[hire], FOREVER))
                term_to = FOREVER if term_end is None else iso[term_end]
                manager_rows.append((emp_no, dept_no, iso[term_start], term_to))
            else:
                if random_() < _LEAVER_CHANCE:
                    end = randint(hire + 365, snapshot - 1)
                    last_to = iso[end]
                else:
                    end, last_to = snapshot, FOREVER
                dept_no = choice(_DEPT_POOL)
                if random_() < _MOVE_CHANCE:
                    moved = randint(hire + 1, end - 1)
                    new_dept_no = choice(_DEPT_POOL)
                    while new_dept_no == dept_no:
                        new_dept_no = choice(_DEPT_POOL)
                    dept_emp.append((emp_no, dept_no, iso[hire], iso[moved]))
                    dept_emp.append((emp_no, new_dept_no, iso[moved], last_to))
                else:
                    dept_emp.append((emp_no, dept_no, iso[hire], last_to))
                first_title, next_title = choice(_TITLE_TRACKS)
                if random_() < _PROMOTION_CHANCE:
                    promoted = randint(hire + 1, end - 1)
                    titles.append((emp_no, first_title, iso[hire], iso[promoted]))
                    titles.append((emp_no, next_title, iso[promoted], last_to))
                else:
                    titles.append((emp_no, first_title, iso[hire], last_to))

            employees.append(
                (emp_no, iso[birth], first_name, last_name, gender, iso[hire])
            )

            # One salary a year from the hire date; each row ends where the
            # next begins, the last one when the employee left (or never).
            salary = randint(salary_lo, salary_hi)
            from_day = hire
            while from_day < end:
                to_day = next_year[from_day]
                to = iso[to_day] if to_day < end else last_to
                salaries.append((emp_no, salary, iso[from_day], to))
                salary = min(_SALARY_CAP, int(salary * (1 + _MAX_RAISE * random_())))
                from_day = to_day

        yield {
            "employees": employees,
            "dept_emp": dept_emp,
            "titles": titles,
            "salaries": salaries,
        }

    # Last: on SQLite with foreign keys on, the managers must exist first.
    yield {"dept_manager": sorted(manager_rows)}


def _existing(engine: sa.Engine) -> list[str]:
    inspector = sa.inspect(engine)
    names = set(inspector.get_table_names()) | set(inspector.get_view_names())
    return [n for n in (*LEGACY_TABLES, *LEGACY_VIEWS) if n in names]


def create_legacy(engine: sa.Engine, scale: float = 1, seed: int = 1) -> dict[str, int]:
    """Create the legacy employees schema on an empty database and fill it with
    round(scale * 10,000) synthetic employees. Returns the rows per table."""
    # A mariadb:// URL names its dialect "mariadb"; the DDL is the same.
    dialect = {"mariadb": "mysql"}.get(engine.dialect.name, engine.dialect.name)
    if dialect not in LEGACY_DDL:
        raise HeadwayError(
            f"cannot create the legacy database on {engine.dialect.name}: "
            "only MySQL/MariaDB and SQLite are supported"
        )
    employee_count = round(scale * EMPLOYEES_PER_SCALE) if scale > 0 else 0
    if employee_count < MANAGER_COUNT:
        raise HeadwayError(
            f"scale {scale:g} gives {employee_count} employees; the legacy data "
            f"needs at least {MANAGER_COUNT} (scale "
            f"{MANAGER_COUNT / EMPLOYEES_PER_SCALE:g} or more) for its managers"
        )
    existing = _existing(engine)
    if existing:
        raise HeadwayError(
            "the database already has "
            + ", ".join(existing)
            + ": create the legacy database in an empty one"
        )

    counts = dict.fromkeys(LEGACY_TABLES, 0)
    with engine.connect() as conn:
        for statement in LEGACY_DDL[dialect]:
            conn.exec_driver_sql(statement)
        conn.commit()
        insert = _insert_mysql if dialect == "mysql" else _insert_sqlite
        if dialect == "mysql":
            # The rows are valid by construction: skip the per-row checks.
            conn.exec_driver_sql("SET foreign_key_checks=0, unique_checks=0")
        try:
            for batch in _generate(employee_count, seed):
                for table, rows in batch.items():
                    insert(conn, table, rows)
                    counts[table] += len(rows)
                conn.commit()
        finally:
            if dialect == "mysql" and not conn.invalidated:
                conn.rollback()
                conn.exec_driver_sql("SET foreign_key_checks=1, unique_checks=1")
                conn.commit()
    return counts


def _insert_mysql(conn: sa.Connection, table: str, rows: list[tuple]) -> None:
    # Rows become SQL text directly: every value is an int, a date's ISO text or
    # a name from the lists above, none of which needs escaping.
    template = _ROW_TEMPLATES[table]
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        values = ",".join(
            [template % row for row in rows[start : start + _ROWS_PER_INSERT]]
        )
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES {values}")


def _insert_sqlite(conn: sa.Connection, table: str, rows: list[tuple]) -> None:
    marks = ",".join("?" * len(rows[0]))
    conn.exec_driver_sql(f"INSERT INTO {table} VALUES ({marks})", rows)
