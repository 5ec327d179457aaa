"""Drives the Messages API of `understudy serve` with the unmodified official `anthropic` package.

argv: base_url model [exact]. With `exact`, count_tokens must equal the prompt tokens an answer
reports (the embedded engine counts exactly; HTTP backends estimate). A two-step tool loop (tool_use -> tool_result -> final text), the SDK's
stream helper on a text answer and on a streamed tool call, count_tokens, and the errors a client
gets in Anthropic's shape. Prints "anthropic messages: ok" at the end.
"""
import json
import sys

import anthropic

base_url, model = sys.argv[1], sys.argv[2]
exact = sys.argv[3:] == ["exact"]
client = anthropic.Anthropic(base_url=base_url, api_key="unused")

tools = [
    {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name."}},
            "required": ["city"],
        },
    }
]
question = [{"role": "user", "content": "What is the weather like in Paris right now?"}]

# 1. The model calls the tool (tool_choice "any": a call is required).
r = client.messages.create(
    model=model, max_tokens=64, messages=question, tools=tools, tool_choice={"type": "any"}
)
assert r.type == "message" and r.role == "assistant", r
assert r.stop_reason == "tool_use", r
uses = [b for b in r.content if b.type == "tool_use"]
assert uses and uses[0].name == "get_weather", r
assert isinstance(uses[0].input, dict) and "paris" in str(uses[0].input.get("city", "")).lower(), r
assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0, r.usage

# 2. The tool's result goes back; the model answers in text.
messages = question + [
    {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in r.content]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": json.dumps({"temperature_c": 18, "sky": "sunny"})}]},
]
r2 = client.messages.create(model=model, max_tokens=64, messages=messages, tools=tools)
texts = [b.text for b in r2.content if b.type == "text"]
assert r2.stop_reason == "end_turn" and not [b for b in r2.content if b.type == "tool_use"], r2
assert texts and texts[0].strip(), r2
print("final answer:", texts[0].strip().replace("\n", " ")[:120])

# 3. Streamed text through the SDK's stream helper.
with client.messages.stream(
    model=model, max_tokens=24, system="Answer in a few words.",
    messages=[{"role": "user", "content": "Say hello in three words."}],
) as stream:
    pieces = [t for t in stream.text_stream]
    final = stream.get_final_message()
assert pieces and "".join(pieces) == final.content[0].text, (pieces, final)
assert final.stop_reason in ("end_turn", "max_tokens"), final
assert final.usage.output_tokens > 0, final.usage

# 4. A streamed tool call: the helper rebuilds `input` from the input_json_delta pieces.
with client.messages.stream(
    model=model, max_tokens=64, messages=question, tools=tools,
    tool_choice={"type": "tool", "name": "get_weather"},
) as stream:
    final = stream.get_final_message()
streamed = [b for b in final.content if b.type == "tool_use"]
assert final.stop_reason == "tool_use" and streamed, final
assert streamed[0].name == "get_weather" and "city" in streamed[0].input, final

# 5. count_tokens: what /v1/messages would send, counted by the model's tokenizer.
plain = client.messages.count_tokens(model=model, messages=question)
with_tools = client.messages.count_tokens(model=model, messages=question, tools=tools)
assert plain.input_tokens > 5 and with_tools.input_tokens > plain.input_tokens, (plain, with_tools)
if exact:
    used = client.messages.create(model=model, max_tokens=1, messages=question).usage
    assert plain.input_tokens == used.input_tokens + (used.cache_read_input_tokens or 0), (plain, used)

# 6. Errors arrive in Anthropic's shape, naming the field.
for bad, field in [
    (dict(messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "http://x"}}]}]),
     "messages[0].content[0].type"),
    (dict(messages=question, extra_body={"top_k": 5}), "top_k"),
    (dict(messages=question, tools=[{"name": "f", "input_schema": {"type": "objekt"}}]), "tools[0].input_schema"),
]:
    try:
        client.messages.create(model=model, max_tokens=8, **bad)
    except anthropic.BadRequestError as e:
        body = e.body
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error", body
        assert field in body["error"]["message"], (field, body)
    else:
        raise AssertionError(f"{field}: expected a 400")
try:
    client.messages.create(model="no-such-model", max_tokens=8, messages=question)
except anthropic.NotFoundError as e:
    assert e.body["error"]["type"] == "not_found_error", e.body
else:
    raise AssertionError("expected a 404")

print("anthropic messages: ok")
