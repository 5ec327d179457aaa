#!/usr/bin/env python3
"""understudy grader for formatting rules: checks five rules a reply must keep and prints the
share kept (with --strict, 1 only when every rule is kept).

Run once per answer (the default): one JSON request on stdin (see docs/guide/graders.md), one
verdict on stdout. The item's rule parameters come from the task's `fields`: `bullets` (how
many "- " bullet lines), `max_words` and `keyword`.
"""
import json
import re
import sys

request = json.load(sys.stdin)
fields = request["fields"]
reply = (request.get("extracted") or "").strip()
if not reply:
    print(json.dumps({"score": 0, "format_failure": True, "reason": "empty reply"}))
    sys.exit(0)

lines = [line.strip() for line in reply.splitlines() if line.strip()]
bullets = [line for line in lines if line.startswith("- ")]
rules = {
    f"exactly {fields['bullets']} bullets": len(bullets) == int(fields["bullets"]),
    f"at most {fields['max_words']} words": len(reply.split()) <= int(fields["max_words"]),
    f"mentions {fields['keyword']!r}": re.search(
        r"\b" + re.escape(fields["keyword"]) + r"\b", reply, re.I
    ) is not None,
    "no exclamation marks": "!" not in reply,
    "ends with a question": lines[-1].endswith("?") and not lines[-1].startswith("- "),
}
kept = sum(rules.values())
broken = [name for name, ok in rules.items() if not ok]
strict = "--strict" in sys.argv[1:]
score = float(kept == len(rules)) if strict else kept / len(rules)
print(json.dumps({
    "score": score,
    "parsed": f"{kept}/{len(rules)} rules",
    "reason": "every rule kept" if not broken else "broken: " + "; ".join(broken),
    "rules": rules,
}))
