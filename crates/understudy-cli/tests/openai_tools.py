"""Drives tool calls through `understudy serve` with the unmodified official `openai` package.

argv: base_url model. A two-step tool loop (call -> tool result -> final answer), the same first
step streamed and reassembled by the SDK's own stream helper, a forced call by name, and the
refusals a client gets for bad tool input. Prints "openai tools: ok" at the end.
"""
import json
import sys

import openai

base_url, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key="unused")

tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "The city name."}},
                "required": ["city"],
            },
        },
    }
]
question = [{"role": "user", "content": "What is the weather like in Paris right now?"}]

# 1. The model calls the tool.
r = client.chat.completions.create(model=model, messages=question, tools=tools, max_tokens=64)
choice = r.choices[0]
assert choice.finish_reason == "tool_calls", r
calls = choice.message.tool_calls
assert calls and calls[0].type == "function" and calls[0].function.name == "get_weather", r
args = json.loads(calls[0].function.arguments)
assert "paris" in str(args.get("city", "")).lower(), args
assert calls[0].id.startswith("call_"), calls[0].id

# 2. The tool's result goes back; the model answers in text.
messages = question + [
    {"role": "assistant", "content": None, "tool_calls": [c.model_dump() for c in calls]},
    {"role": "tool", "tool_call_id": calls[0].id, "content": json.dumps({"temperature_c": 18, "sky": "sunny"})},
]
r2 = client.chat.completions.create(model=model, messages=messages, tools=tools, max_tokens=64)
final = r2.choices[0]
assert final.finish_reason == "stop" and not final.message.tool_calls, r2
assert final.message.content and final.message.content.strip(), r2
print("final answer:", final.message.content.strip().replace("\n", " ")[:120])

# 3. Streamed: the SDK's stream helper reassembles the call from the deltas.
with client.chat.completions.stream(model=model, messages=question, tools=tools, max_tokens=64) as stream:
    for _ in stream:
        pass
    done = stream.get_final_completion()
streamed = done.choices[0]
assert streamed.finish_reason == "tool_calls", done
assert streamed.message.tool_calls[0].function.name == "get_weather", done
assert json.loads(streamed.message.tool_calls[0].function.arguments) == args, done

# 4. A named tool_choice forces the call even for a question that needs none.
r3 = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": "Say hello."}],
    tools=tools,
    tool_choice={"type": "function", "function": {"name": "get_weather"}},
    max_tokens=48,
)
assert r3.choices[0].message.tool_calls[0].function.name == "get_weather", r3
# The grammar holds the forced call to the schema: `city` is required.
assert "city" in json.loads(r3.choices[0].message.tool_calls[0].function.arguments), r3

# 5b. Legacy `functions` / `function_call` map onto the same path and answer in their own shape.
legacy = [tools[0]["function"]]
force = {"name": "get_weather"}
r4 = client.chat.completions.create(model=model, messages=question, functions=legacy, function_call=force, max_tokens=48)
m4 = r4.choices[0].message
assert r4.choices[0].finish_reason == "function_call" and not m4.tool_calls, r4
assert m4.function_call.name == "get_weather" and "city" in json.loads(m4.function_call.arguments), r4
after = question + [
    {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": m4.function_call.arguments}},
    {"role": "function", "name": "get_weather", "content": json.dumps({"temperature_c": 18, "sky": "sunny"})},
]
r5 = client.chat.completions.create(model=model, messages=after, functions=legacy, max_tokens=64)
assert r5.choices[0].message.content and r5.choices[0].finish_reason in ("stop", "function_call", "length"), r5
name, arguments, finish = "", "", None
for chunk in client.chat.completions.create(model=model, messages=question, functions=legacy, function_call=force, max_tokens=48, stream=True):
    if not chunk.choices:
        continue
    delta = chunk.choices[0].delta
    if delta.function_call:
        name += delta.function_call.name or ""
        arguments += delta.function_call.arguments or ""
    finish = chunk.choices[0].finish_reason or finish
assert finish == "function_call" and name == "get_weather" and "city" in json.loads(arguments), (name, arguments, finish)

# 5. Bad tool input is a 400 naming the field.
for bad, field in [
    (dict(messages=question + [{"role": "tool", "tool_call_id": "call_nope", "content": "1"}], tools=tools),
     "messages[1].tool_call_id"),
    (dict(messages=question, tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "objekt"}}}]),
     "tools[0].function.parameters"),
    (dict(messages=question, tools=tools, functions=legacy), "functions"),
    (dict(messages=question + [{"role": "function", "name": "get_weather", "content": "1"}], functions=legacy),
     "messages[1].name"),
]:
    try:
        client.chat.completions.create(model=model, max_tokens=8, **bad)
        raise SystemExit(f"expected a 400 naming {field}")
    except openai.BadRequestError as e:
        assert field in str(e), e
print("openai tools: ok")
