"""Drives `understudy serve` with the unmodified official `openai` package (argv: base_url key)."""
import sys

import openai

base_url, key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key=key)

# Non-streaming, through a profile.
r = client.chat.completions.create(
    model="support-bot",
    messages=[{"role": "user", "content": "What is 2+2? Answer with one number."}],
    max_tokens=24,
)
assert r.choices[0].message.content, r
assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0, r.usage
assert r.choices[0].finish_reason in ("stop", "length"), r

# Streaming, a plain backend model.
parts = []
for chunk in client.chat.completions.create(
    model="smollm2-135m",
    messages=[{"role": "user", "content": "Name three colors."}],
    max_tokens=24,
    stream=True,
    stream_options={"include_usage": True},
):
    if chunk.choices and chunk.choices[0].delta.content:
        parts.append(chunk.choices[0].delta.content)
assert len(parts) >= 2 and "".join(parts).strip(), parts

# Errors surface as the client's own exception types.
try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    raise SystemExit("expected NotFoundError")
except openai.NotFoundError as e:
    assert "no-such-model" in str(e), e
try:
    client.chat.completions.create(model="support-bot", messages=[{"role": "robot", "content": "hi"}])
    raise SystemExit("expected BadRequestError")
except openai.BadRequestError as e:
    assert "messages[0].role" in str(e), e
try:
    openai.OpenAI(base_url=base_url, api_key="wrong").chat.completions.create(
        model="support-bot", messages=[{"role": "user", "content": "hi"}]
    )
    raise SystemExit("expected AuthenticationError")
except openai.AuthenticationError:
    pass
print("openai client: ok")
