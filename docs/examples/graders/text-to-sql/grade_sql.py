#!/usr/bin/env python3
"""understudy grader for text-to-SQL: runs the model's query and the gold query against shop.sqlite
and compares the rows they return.

Long-lived (the task sets `long_lived = true`): the database is opened once, then each line on
stdin is one request (a JSON object; see docs/guide/graders.md) and each verdict is one line on
stdout. Rows are compared as a multiset (as a list when the gold query has ORDER BY); column
names do not matter, numbers are compared to 6 decimals. An answer with no SELECT in it is a
format failure; a query that fails scores 0 with SQLite's error as the reason.
"""
import json
import re
import sqlite3
import sys

# Read-only: the task folder is mounted read-only in the sandbox anyway.
DB = sqlite3.connect("file:shop.sqlite?mode=ro", uri=True)
MAX_ROWS = 10_000
# Abort a query after this many SQLite virtual-machine steps (a runaway cross join).
DB.set_progress_handler(lambda: 1, 5_000_000)

FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)(?:```|$)", re.S)


def query_of(text):
    """The first SELECT (or WITH) statement in the answer, fenced or not."""
    fenced = FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    match = re.search(r"\b(SELECT|WITH)\b", text, re.I)
    if not match:
        return None
    statement = text[match.start():].split(";")[0].strip()
    return statement or None


def rows(sql):
    cursor = DB.execute(sql)
    out = cursor.fetchmany(MAX_ROWS + 1)
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in out]


def grade(request):
    sql = query_of(request.get("extracted") or "")
    if sql is None:
        return {"score": 0, "format_failure": True, "reason": "no SELECT query in the answer"}
    gold = rows(request["target"])
    try:
        got = rows(sql)
    except (sqlite3.Error, sqlite3.Warning) as e:
        return {"score": 0, "parsed": sql, "reason": f"the query failed: {e}"}
    if "order by" in request["target"].lower():
        same = got == gold
    else:
        same = sorted(map(repr, got)) == sorted(map(repr, gold))
    reason = "same rows" if same else f"{len(got)} rows, expected {len(gold)} (or other values)"
    return {"score": 1 if same else 0, "parsed": sql, "reason": reason}


for line in sys.stdin:
    print(json.dumps(grade(json.loads(line))), flush=True)
