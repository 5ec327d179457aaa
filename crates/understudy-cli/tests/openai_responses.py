"""Drives the Responses API of `understudy serve` with the unmodified official `openai` package.

argv: base_url model [no-json-schema]. With `no-json-schema` (a backend that cannot hold an
answer to a schema, as the anthropic backend cannot), step 6 expects the 400 that says so. `responses.create` unary and streamed (raw events and the SDK's stream
helper), a tool loop continued by `previous_response_id`, a streamed function call, a
`text.format` JSON schema, and the 400s naming what is not served. Prints "openai responses: ok".
"""
import json
import sys

import openai

base_url, model = sys.argv[1], sys.argv[2]
schemas = sys.argv[3:] != ["no-json-schema"]
client = openai.OpenAI(base_url=base_url, api_key="unused")

tools = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name."}},
            "required": ["city"],
        },
    }
]

# 1. Unary: a string input and instructions.
r = client.responses.create(
    model=model, instructions="Answer in one short sentence.", input="What is the capital of France?",
    max_output_tokens=32,
)
assert r.object == "response" and r.status in ("completed", "incomplete"), r
assert r.output_text.strip(), r
assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0, r.usage
print("unary:", r.output_text.strip().replace("\n", " ")[:80])

# 2. Streamed, raw events: the sequence the SDKs consume.
kinds, text = [], ""
for event in client.responses.create(model=model, input="Say hello in three words.", max_output_tokens=24, stream=True):
    kinds.append(event.type)
    if event.type == "response.output_text.delta":
        text += event.delta
    if event.type in ("response.completed", "response.incomplete"):
        final = event.response
assert kinds[0] == "response.created" and kinds[-1] in ("response.completed", "response.incomplete"), kinds
assert "response.output_item.added" in kinds and "response.output_text.done" in kinds, kinds
assert text and final.output_text == text, (text, final)

# 3. The SDK's stream helper assembles the same response.
with client.responses.stream(model=model, input="Say hello in three words.", max_output_tokens=24) as stream:
    for _ in stream:
        pass
    helped = stream.get_final_response()
assert helped.output_text == text, (helped.output_text, text)

# 4. A tool loop: the call, then its output sent with previous_response_id only.
r1 = client.responses.create(
    model=model, input="What is the weather like in Paris right now?", tools=tools,
    tool_choice="required", max_output_tokens=64,
)
calls = [item for item in r1.output if item.type == "function_call"]
assert calls and calls[0].name == "get_weather", r1
assert "paris" in json.loads(calls[0].arguments).get("city", "").lower(), calls[0]
r2 = client.responses.create(
    model=model, previous_response_id=r1.id, tools=tools, max_output_tokens=64,
    input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": json.dumps({"temperature_c": 18, "sky": "sunny"})}],
)
assert r2.output_text.strip() and not [i for i in r2.output if i.type == "function_call"], r2
print("after the tool:", r2.output_text.strip().replace("\n", " ")[:80])

# 5. A streamed call: argument deltas, and the helper's final response holds the call.
with client.responses.stream(
    model=model, input="What is the weather like in Paris right now?", tools=tools,
    tool_choice={"type": "function", "name": "get_weather"}, max_output_tokens=64,
) as stream:
    kinds = [event.type for event in stream]
    done = stream.get_final_response()
assert "response.function_call_arguments.delta" in kinds, kinds
streamed = [i for i in done.output if i.type == "function_call"]
assert streamed and "city" in json.loads(streamed[0].arguments), done

# 6. text.format json_schema: the answer is JSON of the schema.
schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}
json_request = dict(
    model=model, input="Name the capital of France as JSON.", max_output_tokens=48,
    text={"format": {"type": "json_schema", "name": "capital", "schema": schema, "strict": True}},
)
if schemas:
    r3 = client.responses.create(**json_request)
    assert "city" in json.loads(r3.output_text), r3.output_text
else:
    try:
        client.responses.create(**json_request)
    except openai.BadRequestError as e:
        assert "response_format" in str(e), e
    else:
        raise AssertionError("expected a 400: this backend cannot hold an answer to a schema")

# 7. What is not served is a 400 naming it.
for bad, field in [
    (dict(input="hi", background=True), "background"),
    (dict(input="hi", previous_response_id="resp_nope"), "previous_response_id"),
    (dict(input=[{"role": "user", "content": [{"type": "input_image", "image_url": "http://x"}]}]), "input[0].content[0].type"),
]:
    try:
        client.responses.create(model=model, max_output_tokens=8, **bad)
    except openai.BadRequestError as e:
        assert e.body.get("param") == field or field in str(e), (field, e.body)
    else:
        raise AssertionError(f"{field}: expected a 400")

print("openai responses: ok")
