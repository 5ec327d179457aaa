"""Token log-probabilities through `understudy serve` with the unmodified official `openai` package.

argv: base_url model [refused]. Unary and streamed `logprobs` with `top_logprobs`: the tokens spell
the answer, at temperature 0 each chosen token is the most likely one, the alternatives come most
likely first, unary and streamed alike. With `refused` (a backend that has no
log-probabilities) the request must be a 400 saying so. Prints "openai logprobs: ok".
"""
import sys

import openai

base_url, model = sys.argv[1], sys.argv[2]
refused = sys.argv[3:] == ["refused"]
client = openai.OpenAI(base_url=base_url, api_key="unused")
ask = dict(model=model, messages=[{"role": "user", "content": "Name three primary colors."}],
           max_tokens=16, temperature=0, logprobs=True, top_logprobs=3)

if refused:
    try:
        client.chat.completions.create(**ask)
    except openai.BadRequestError as e:
        assert "logprobs" in str(e), e
    else:
        raise AssertionError("expected a 400: this backend has no log-probabilities")
    print("openai logprobs: ok")
    sys.exit(0)

r = client.chat.completions.create(**ask)
content = r.choices[0].message.content
tokens = r.choices[0].logprobs.content
assert tokens and "".join(t.token for t in tokens) == content, (content, [t.token for t in tokens])
for t in tokens:
    assert t.logprob <= 0 and len(t.top_logprobs) == 3, t
    alts = [a.logprob for a in t.top_logprobs]
    assert alts == sorted(alts, reverse=True), t
    # Greedy decoding picks the most likely token.
    assert t.top_logprobs[0].token == t.token and abs(t.top_logprobs[0].logprob - t.logprob) < 1e-6, t
    assert bytes(t.bytes).decode("utf-8", "replace") == t.token or not t.token.isprintable(), t

# Streamed: the logprobs chunks cover the streamed answer token by token, greedy again. (Not
# compared with the unary answer: after other traffic a reused prompt prefix can move logits
# by float noise, enough to flip a near tie.)
streamed, text = [], ""
for chunk in client.chat.completions.create(stream=True, **ask):
    if chunk.choices and chunk.choices[0].logprobs:
        streamed.extend(chunk.choices[0].logprobs.content)
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
assert streamed and "".join(t.token for t in streamed) == text, (text, [t.token for t in streamed])
assert all(t.top_logprobs[0].token == t.token for t in streamed), streamed

plain = client.chat.completions.create(**{k: v for k, v in ask.items() if k not in ("logprobs", "top_logprobs")})
assert plain.choices[0].logprobs is None, plain

for bad in [dict(top_logprobs=2), dict(logprobs=True, top_logprobs=21)]:
    try:
        client.chat.completions.create(model=model, messages=ask["messages"], max_tokens=4, **bad)
    except openai.BadRequestError as e:
        assert e.body.get("param") == "top_logprobs", e.body
    else:
        raise AssertionError(f"{bad}: expected a 400")
print("first token:", tokens[0].token, round(tokens[0].logprob, 3), [a.token for a in tokens[0].top_logprobs])
print("openai logprobs: ok")
