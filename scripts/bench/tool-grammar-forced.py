"""The tool-call grammar's decode cost where it is always on: BFCL simple items sent to two
gateways (tool_call_grammar on / off) with tool_choice "required", so the call is grammar-held
from its first token on one and free on the other. Alternates on/off per item, one request at a
time; prints the median decode speed each side (from the response's `timing`) and their ratio,
and how many calls named an offered function with arguments that parse.
Usage: python3 scripts/bench/tool-grammar-forced.py ON_URL OFF_URL ITEMS DATA.jsonl
Standard library only."""
import json
import statistics
import sys
import urllib.request

on_url, off_url, items, data = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rows = [json.loads(line) for line in open(data) if '"pool": true' not in line][:items]


def ask(url, row):
    body = {"model": "qwen2.5-coder-0.5b", "temperature": 0, "max_tokens": 160,
            "tool_choice": "required", "tools": row["tools"],
            "messages": [{"role": "user", "content": row["question"]}]}
    request = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    reply = json.load(urllib.request.urlopen(request, timeout=600))
    calls = reply["choices"][0]["message"].get("tool_calls") or []
    offered = {t["function"]["name"] for t in row["tools"]}
    usable = 0
    for call in calls:
        try:
            usable += call["function"]["name"] in offered and isinstance(
                json.loads(call["function"]["arguments"]), dict)
        except ValueError:
            pass
    return reply["timing"].get("decode_tokens_per_s"), usable == len(calls) > 0


speeds = {"on": [], "off": []}
usable = {"on": 0, "off": 0}
for row in rows:
    for side, url in (("on", on_url), ("off", off_url)):
        speed, ok = ask(url, row)
        if speed:
            speeds[side].append(speed)
        usable[side] += ok
for side in ("on", "off"):
    print(f"{side}: decode p50 {statistics.median(speeds[side]):.1f} tok/s over "
          f"{len(speeds[side])} answers; usable calls {usable[side]}/{len(rows)}")
print(f"grammar on / off decode: {statistics.median(speeds['on']) / statistics.median(speeds['off']):.3f}x")
