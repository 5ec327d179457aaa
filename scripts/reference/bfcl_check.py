"""Checks understudy's BFCL scores against BFCL's own AST checker on the same outputs.

Usage: python3 scripts/reference/bfcl_check.py STORE.db [WHEEL]

Reads every bfcl-* cell of an eval store (SQLite): the calls understudy read from the response
(`parsed`) and the score it gave. Runs bfcl_eval/eval_checker/ast_eval/ast_checker.py from the
pinned wheel (bfcl-eval==2026.3.23; fetched with `pip download --no-deps` when not given) on the
same calls, as BFCL runs it for an OpenAI-style function-calling model (names with "." offered
as "_"), and prints the agreement with every disagreement listed. Irrelevance is BFCL's rule
(correct iff no call). The checker's imports of the rest of bfcl_eval are stubbed: it needs only
its type tables, which are loaded from the wheel. Standard library only.
"""
import enum
import glob
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import types
import zipfile


def wheel_path():
    if len(sys.argv) > 2:
        return sys.argv[2]
    out = tempfile.mkdtemp()
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "bfcl-eval==2026.3.23", "-d", out], check=True)
    return glob.glob(os.path.join(out, "*.whl"))[0]


def load_checker(wheel):
    z = zipfile.ZipFile(wheel)
    read = lambda name: z.read(name).decode()

    class Language(enum.Enum):
        PYTHON = "python"
        JAVA = "java"
        JAVASCRIPT = "javascript"

    class Config:
        underscore_to_dot = True

    stubs = {
        "bfcl_eval": types.ModuleType("bfcl_eval"),
        "bfcl_eval.constants": types.ModuleType("bfcl_eval.constants"),
        "bfcl_eval.constants.enums": types.SimpleNamespace(Language=Language),
        "bfcl_eval.constants.model_config": types.SimpleNamespace(
            MODEL_CONFIG_MAPPING={"understudy": Config()}),
        "bfcl_eval.eval_checker.ast_eval.type_convertor.java_type_converter":
            types.SimpleNamespace(java_type_converter=None),
        "bfcl_eval.eval_checker.ast_eval.type_convertor.js_type_converter":
            types.SimpleNamespace(js_type_converter=None),
    }
    mappings = types.ModuleType("bfcl_eval.constants.type_mappings")
    exec(read("bfcl_eval/constants/type_mappings.py"), mappings.__dict__)
    stubs["bfcl_eval.constants.type_mappings"] = mappings
    sys.modules.update(stubs)
    checker = types.ModuleType("ast_checker")
    exec(read("bfcl_eval/eval_checker/ast_eval/ast_checker.py"), checker.__dict__)
    return checker, Language


def main():
    checker, Language = load_checker(wheel_path())
    db = sqlite3.connect(sys.argv[1])
    rows = db.execute(
        "select task, item_id, model, parsed, gold, score, detail from cells where task like 'bfcl-%'"
    ).fetchall()
    items = {}
    data_dir = os.path.join(os.path.dirname(__file__), "../../crates/understudy-tasks/src/tasks/data")
    for path in glob.glob(os.path.join(data_dir, "bfcl_*.jsonl")):
        for line in open(path, encoding="utf-8"):
            item = json.loads(line)
            items[item["id"]] = item
    agree, differ = 0, []
    for task, item_id, model, parsed, gold, score, detail in rows:
        item = items[item_id]
        calls = json.loads(parsed or "[]")
        category = item["category"]
        if category == "irrelevance":
            theirs = len(calls) == 0
        else:
            result = checker.ast_checker(item["functions"], calls, json.loads(item["target"]),
                                         Language.PYTHON, category, "understudy")
            theirs = bool(result["valid"])
        ours = score >= 1.0
        if ours == theirs:
            agree += 1
        else:
            differ.append((task, item_id, model, ours, theirs, calls))
    print(f"{agree} of {len(rows)} cells scored alike by understudy and BFCL's ast_checker")
    for d in differ:
        print("differs:", d)
    sys.exit(1 if differ else 0)


main()
