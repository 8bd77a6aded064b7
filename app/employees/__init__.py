"""The employee data admin: Flask-Admin views of the legacy tables and views,
fast at the real size (keyset pages, estimated counts, indexed search) and safe
(read-only keys, database errors in words, cascades named before a delete)."""
