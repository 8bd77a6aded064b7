"""How Werkzeug quotes what url_for puts in a URL (its routing converters and
werkzeug.urls). A page with many links of one kind builds the prefix with
url_for once and quotes each row's part the same way (the history, the
employee lists; their tests compare the links with url_for's own)."""

# Left unquoted in a path segment.
PATH_SAFE = "!$&'()*+,/:;=@"
# Left unquoted in a query string's values.
QUERY_SAFE = "!$'()*,/:;?@"
