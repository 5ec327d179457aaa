"""Traffic capture through `understudy serve` with the unmodified official `openai` package.

argv: base_url model. One unary and one streamed request, each carrying an e-mail address, a card
number, a ticket id (a profile pattern) and a `user` (a profile field path) — what the capture
must take out before anything is written. The answers must reach the client unchanged.
Prints "openai capture: ok".
"""
import sys

import openai

base_url, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key="unused")
content = "Mail jane@example.com about ACME-42; card 4111 1111 1111 1111."

r = client.chat.completions.create(model=model, user="customer-17",
                                   messages=[{"role": "user", "content": content}])
assert r.choices[0].message.content == "Sure: reply to ops@example.com", r

pieces = []
for chunk in client.chat.completions.create(
        model=model, stream=True,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": content}]):
    if chunk.choices and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
assert "".join(pieces) == "Sure: reply to ops@example.com", pieces
print("openai capture: ok")
