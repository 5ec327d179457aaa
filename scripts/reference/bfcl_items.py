"""Writes the built-in tool-call tasks' items from BFCL's own data (bfcl-eval==2026.3.23, Apache-2.0).

Reads bfcl_eval/data/BFCL_v4_{simple_python,multiple,parallel,parallel_multiple,irrelevance}.json and
possible_answer/ from the wheel (pass its path, or it is fetched with `pip download --no-deps`),
keeps the first 100 items of each category in file order, and writes one JSON line per item
(then the next 16 items, marked `"pool": true`: the few-shot pool, never scored):

  id, category, question (the single user turn), tools (the functions as OpenAI `tools`, converted
  the way BFCL converts them for function-calling models: Gorilla types to JSON Schema types,
  float marked in the description, "." in names replaced by "_"), functions (BFCL's original
  descriptions, which its checker types values against), target (the possible answers as JSON
  text; "[]" for irrelevance, where the right answer is no call).

Standard library only. Usage: python3 scripts/reference/bfcl_items.py OUTDIR [WHEEL]
writes OUTDIR/bfcl_<category>.jsonl for each category.
"""
import copy
import glob
import json
import os
import subprocess
import sys
import tempfile
import zipfile

CATEGORIES = [
    ("simple", "simple_python"),
    ("multiple", "multiple"),
    ("parallel", "parallel"),
    ("parallel_multiple", "parallel_multiple"),
    ("irrelevance", "irrelevance"),
]
PER_CATEGORY = 100
POOL = 16
TO_SCHEMA = {
    "integer": "integer", "number": "number", "float": "number", "string": "string",
    "boolean": "boolean", "bool": "boolean", "array": "array", "list": "array",
    "dict": "object", "object": "object", "tuple": "array", "any": "string",
}


def schema_type(gorilla):
    return TO_SCHEMA.get(gorilla, "string")


def convert_properties(properties):
    for spec in properties.values():
        gorilla = spec.get("type")
        if gorilla == "float":
            spec["format"] = "float"
            spec["description"] = spec.get("description", "") + " This is a float type value."
        spec["type"] = schema_type(gorilla) if gorilla else "string"
        if spec["type"] in ("array", "object"):
            if "properties" in spec:
                convert_properties(spec["properties"])
            elif "items" in spec:
                items = spec["items"]
                items["type"] = schema_type(items.get("type"))
                if items["type"] == "array" and "items" in items:
                    items["items"]["type"] = schema_type(items["items"].get("type"))
                elif items["type"] == "object" and "properties" in items:
                    convert_properties(items["properties"])
    return properties


def as_tool(function):
    f = copy.deepcopy(function)
    f["name"] = f["name"].replace(".", "_")
    f["parameters"]["type"] = "object"
    f["parameters"]["properties"] = convert_properties(f["parameters"].get("properties", {}))
    return {"type": "function", "function": f}


def wheel_path(argv):
    if len(argv) > 2:
        return argv[2]
    out = tempfile.mkdtemp()
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "bfcl-eval==2026.3.23", "-d", out], check=True)
    return glob.glob(os.path.join(out, "*.whl"))[0]


def main():
    out_dir = sys.argv[1]
    wheel = zipfile.ZipFile(wheel_path(sys.argv))
    read = lambda name: [json.loads(l) for l in wheel.read(name).decode().splitlines() if l.strip()]
    for category, stem in CATEGORIES:
        rows = read(f"bfcl_eval/data/BFCL_v4_{stem}.json")[:PER_CATEGORY + POOL]
        answers = {}
        if category != "irrelevance":
            answers = {a["id"]: a["ground_truth"]
                       for a in read(f"bfcl_eval/data/possible_answer/BFCL_v4_{stem}.json")}
        out = open(os.path.join(out_dir, f"bfcl_{category}.jsonl"), "w", encoding="utf-8")
        for index, row in enumerate(rows):
            turn = row["question"][0]
            assert len(turn) == 1 and turn[0]["role"] == "user", row["id"]
            item = {
                "id": row["id"],
                "category": category,
                "question": turn[0]["content"],
                "tools": [as_tool(f) for f in row["function"]],
                "functions": row["function"],
                "target": json.dumps(answers.get(row["id"], [])),
            }
            if index >= PER_CATEGORY:
                item["pool"] = True
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
        out.close()


main()
