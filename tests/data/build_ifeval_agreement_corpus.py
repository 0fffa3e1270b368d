"""Build tests/data/ifeval_agreement_corpus.jsonl: (response, IFEval instruction, kwargs) cases for all 25 types.

Responses: real SmolLM2-135M-Instruct outputs (smollm2_responses.jsonl, from generate_model_responses.py),
transformed copies of them (lower/upper case, quoted, JSON-wrapped, *** dividers, ...) and crafted edge cases
(empty, unicode, markdown, boundaries). Params are picked near each response's own counts so verdicts are split.
Each row records the reference's strict/loose verdicts. Run: `python tests/data/build_ifeval_agreement_corpus.py`.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lab.constraints.hard.combination import ENDING_OPTIONS  # noqa: E402
from lab.constraints.hard.common import SAMPLE_WORDS  # noqa: E402
from lab.constraints.hard.conflicts import HARD_IDS  # noqa: E402
from lab.constraints.hard.content import count_placeholders  # noqa: E402
from lab.constraints.hard.formats import count_highlights  # noqa: E402
from lab.constraints.text_stats import count_capital_words, count_sentences, count_words  # noqa: E402
from tests.ifeval_reference import load_reference, reference_verdicts  # noqa: E402

HERE = Path(__file__).parent
OUT = HERE / "ifeval_agreement_corpus.jsonl"
LANGS = ["en", "es", "pt", "ar", "hi", "fr", "ru", "de", "ja", "it", "bn", "uk", "th", "ko", "pl", "fi", "vi"]
REL = ("less than", "at least")


def near(rng: random.Random, value: int, low: int = 1) -> int:
    return max(low, value + rng.choice([-2, -1, 0, 0, 1, 1, 2]))


def params_for(type_id: str, response: str, prompt: str, rng: random.Random) -> dict:  # noqa: C901
    words = re.findall(r"[A-Za-z]{4,}", response)
    if type_id == "keywords:existence":
        pool = words[:50] or list(SAMPLE_WORDS)
        return {
            "keywords": [rng.choice(pool if rng.random() < 0.7 else SAMPLE_WORDS) for _ in range(rng.randint(1, 2))]
        }
    if type_id == "keywords:frequency":
        keyword = rng.choice(words) if words and rng.random() < 0.8 else rng.choice(SAMPLE_WORDS)
        actual = len(re.findall(keyword, response, flags=re.IGNORECASE))
        return {"keyword": keyword, "frequency": near(rng, actual), "relation": rng.choice(REL)}
    if type_id == "keywords:forbidden_words":
        pool = words[:50] or list(SAMPLE_WORDS)
        return {"forbidden_words": [rng.choice(pool if rng.random() < 0.5 else SAMPLE_WORDS) for _ in range(2)]}
    if type_id == "keywords:letter_frequency":
        letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
        return {
            "letter": letter,
            "let_frequency": near(rng, response.lower().count(letter)),
            "let_relation": rng.choice(REL),
        }
    if type_id == "language:response_language":
        return {"language": rng.choice(["en", "en", *LANGS])}
    if type_id == "length_constraints:number_sentences":
        return {"num_sentences": near(rng, count_sentences(response)), "relation": rng.choice(REL)}
    if type_id == "length_constraints:number_paragraphs":
        return {"num_paragraphs": near(rng, len(re.split(r"\s?\*\*\*\s?", response)))}
    if type_id == "length_constraints:number_words":
        return {"num_words": near(rng, count_words(response)), "relation": rng.choice(REL)}
    if type_id == "length_constraints:nth_paragraph_first_word":
        paragraphs = [p for p in response.split("\n\n") if p.strip()] or ["x"]
        num = near(rng, len(paragraphs))
        nth = rng.randint(1, num)
        source = paragraphs[min(nth, len(paragraphs)) - 1].split() or ["x"]
        first = re.sub(r"[^\w]", "", source[0]).lower() or "the"
        return {"num_paragraphs": num, "nth_paragraph": nth, "first_word": first}
    if type_id == "detectable_content:number_placeholders":
        return {"num_placeholders": near(rng, count_placeholders(response))}
    if type_id == "detectable_content:postscript":
        return {"postscript_marker": rng.choice(["P.S.", "P.P.S", "P.S.", "Note:"])}
    if type_id == "detectable_format:number_bullet_lists":
        bullets = len(re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE))
        bullets += len(re.findall(r"^\s*-.*$", response, flags=re.MULTILINE))
        return {"num_bullets": near(rng, bullets)}
    if type_id == "detectable_format:number_highlighted_sections":
        return {"num_highlights": near(rng, count_highlights(response))}
    if type_id == "detectable_format:multiple_sections":
        splitter = rng.choice(["Section", "SECTION"])
        return {"section_spliter": splitter, "num_sections": near(rng, len(re.split(splitter, response)) - 1)}
    if type_id == "combination:repeat_prompt":
        first_line = response.strip().split("\n")[0][: rng.choice([10, 80])].strip() or "Repeat me"
        return {"prompt_to_repeat": prompt if prompt.strip() and rng.random() < 0.5 else first_line}
    if type_id == "startend:end_checker":
        tail = " ".join(response.strip().strip('"').split()[-3:]) or "Any other questions?"
        return {"end_phrase": tail if rng.random() < 0.5 else rng.choice(ENDING_OPTIONS)}
    if type_id == "change_case:capital_word_frequency":
        return {"capital_frequency": near(rng, count_capital_words(response)), "capital_relation": rng.choice(REL)}
    return {}


def transforms(response: str, rng: random.Random) -> list[tuple[str, str, str]]:
    """Copies of a real output shaped to satisfy one type (name, text, that type), some behind a preamble line
    or with markdown that only IFEval's loose variants forgive."""
    paragraphs = [p.strip() for p in response.split("\n\n") if p.strip()] or ["Empty."]
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", response.strip()) if s.strip()] or ["Thanks."]
    words = response.split()
    preamble = rng.choice(["Sure, here it is:", "**Answer**", "Here is my response."])
    highlighted = " ".join(f"*{w}*" if i % 7 == 3 else w for i, w in enumerate(words[:80]))
    return [
        ("lower", response.lower(), "change_case:english_lowercase"),
        ("upper", response.upper(), "change_case:english_capital"),
        ("upper_preamble", preamble + "\n" + response.upper(), "change_case:english_capital"),
        ("quoted", '"' + response.strip() + '"', "startend:quotation"),
        ("quoted_preamble", preamble + '\n"' + response.strip() + '"', "startend:quotation"),
        ("json", json.dumps({"answer": response}, ensure_ascii=False), "detectable_format:json_format"),
        (
            "json_fenced",
            "```json\n" + json.dumps({"answer": response[:200]}, indent=2) + "\n```",
            "detectable_format:json_format",
        ),
        ("json_preamble", preamble + "\n" + json.dumps({"answer": sentences[0]}), "detectable_format:json_format"),
        ("dividers", "\n***\n".join(paragraphs[:4]), "length_constraints:number_paragraphs"),
        ("blank_lines", "\n\n".join(paragraphs[:4]), "length_constraints:nth_paragraph_first_word"),
        ("ps", response.rstrip() + "\n\nP.S. " + rng.choice(sentences), "detectable_content:postscript"),
        ("bullets", "\n".join("* " + s for s in sentences[:4]), "detectable_format:number_bullet_lists"),
        (
            "dashes",
            preamble + "\n" + "\n".join("- " + s for s in sentences[:3]),
            "detectable_format:number_bullet_lists",
        ),
        (
            "sections",
            "\n".join(f"SECTION {i + 1}\n{p}" for i, p in enumerate(paragraphs[:3])),
            "detectable_format:multiple_sections",
        ),
        ("no_commas", response.replace(",", ""), "punctuation:no_comma"),
        ("title", "<<" + sentences[0][:30] + ">>\n" + response, "detectable_format:title"),
        ("two", paragraphs[0] + "\n******\n" + paragraphs[-1] + "!", "combination:two_responses"),
        ("ending", response.rstrip() + " Any other questions?", "startend:end_checker"),
        ("ending_bold", response.rstrip() + " **Any other questions?**", "startend:end_checker"),
        (
            "yes",
            rng.choice(["My answer is yes.", "My answer is no.", "my answer is maybe"]) + " " + sentences[0],
            "detectable_format:constrained_response",
        ),
        (
            "placeholders",
            sentences[0] + " Contact [name] at [address] on [date].",
            "detectable_content:number_placeholders",
        ),
        ("highlights", highlighted, "detectable_format:number_highlighted_sections"),
        ("repeat", "REPEAT_PROMPT\n" + response, "combination:repeat_prompt"),
    ]


CRAFTED = [
    "",
    " ",
    "\n\n",
    "*",
    "***",
    "******",
    '"',
    '""',
    '" "',
    "a",
    "A",
    "I",
    "<<>>",
    "<< >>",
    "<<a>>",
    "[]",
    "[a]",
    "P.S.",
    "p.s. hi",
    "P.P.S ok",
    "ps no",
    "My answer is yes.",
    "my answer is yes.",
    "My answer is maybe",
    "{}",
    "[]",
    '```json\n{"a": 1}\n```',
    "```\n[1, 2]\n```",
    '```JSON{"a":1}```',
    "{'a': 1}",
    "null",
    "1e5",
    "NaN",
    "* one\n* two\n* three",
    "- one\n- two",
    "*bold* and **strong**",
    "**not closed",
    "* \n*",
    "  * indented\n\t- tab",
    "****",
    "*a**b*",
    "***x***",
    "Section 1\nSection 2\nSection3",
    "SECTION 1 SECTION 2",
    "section 1",
    "Para one.\n\nPara two.\n\n\n\nPara three.",
    "\n\nLeading blank.\n\nSecond.",
    "First para\n\n\n\nSecond",
    "Mr. Smith went to Washington. He arrived at 5 p.m. on Jan. 3rd. Then he left.",
    "Wait... what?! Really?",
    "The U.S.A. is big. e.g. this one. i.e. that.",
    '(Sent one.) Sent two. "Quoted sentence." Another one!',
    "HELLO WORLD",
    "HELLO, WORLD! THIS IS ALL CAPS AND ENGLISH.",
    "hello world this is all lowercase english.",
    "DON'T STOP. I'M HERE. U.S. ARMY. NASA-LED PROJECT.",
    "Ça va? Très bien, merci beaucoup mon ami.",
    "Hola, ¿cómo estás? Estoy muy bien, gracias por preguntar.",
    "Привет, как дела? У меня всё хорошо.",
    "こんにちは。今日はいい天気ですね。",
    "你好，今天天气很好。",
    "مرحبا، كيف حالك اليوم؟",
    "नमस्ते, आप कैसे हैं?",
    "안녕하세요. 오늘 날씨가 좋네요.",
    "😀😀😀",
    "🙂 hello 🙂",
    "e\u0301cole",
    "ﬁne ﬂow",
    "İstanbul ıi",
    "ß straße",
    "123 456 789",
    "http://example.com/a/b?c=d",
    "mail me at foo@example.com please",
    "tab\tseparated\twords",
    "\u200b\u200bzero width",
    "line\r\nwindows\r\nendings",
    "\u00a0non-breaking\u00a0space",
    "Any other questions?",
    '"Any other questions?"',
    "Is there anything else I can help with?\n",
    "word " * 300,
    "Sentence. " * 40,
    "a,b,c",
    "no commas here",
    "，full-width comma",
    "<<Title>>\nbody",
    "<<a\nb>>",
    "[[nested]] [x] [y] [z",
]


def main() -> None:
    utils = load_reference()
    rng = random.Random(1234)
    model_rows = [json.loads(line) for line in (HERE / "smollm2_responses.jsonl").read_text().splitlines() if line]
    rows: list[dict] = []

    def add(source: str, response: str, prompt: str, type_ids: list[str]) -> None:
        kwargs = [params_for(t, response, prompt, rng) for t in type_ids]
        verdicts = [reference_verdicts(utils, t, response, k, prompt) for t, k in zip(type_ids, kwargs, strict=True)]
        rows.append(
            {
                "source": source,
                "prompt": prompt,
                "response": response,
                "instruction_id_list": type_ids,
                "kwargs": kwargs,
                "ref_strict": [v[0] for v in verdicts],
                "ref_loose": [v[1] for v in verdicts],
            }
        )

    for n, row in enumerate(model_rows):
        add(f"smollm2/{n}", row["response"], row["prompt"], list(HARD_IDS))
        for name, variant, target in transforms(row["response"], rng):
            variant = variant.replace("REPEAT_PROMPT", row["prompt"])
            others = rng.sample([t for t in HARD_IDS if t != target], k=3)
            add(f"smollm2/{n}/{name}", variant, row["prompt"], [target, *others])
    for n, response in enumerate(CRAFTED):
        add(f"crafted/{n}", response, response[:40], list(HARD_IDS))
    with OUT.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    cases = [t for row in rows for t in row["instruction_id_list"]]
    per_type = [cases.count(t) for t in HARD_IDS]
    print(f"{len(rows)} responses, {len(cases)} cases -> {OUT}; per type {min(per_type)}..{max(per_type)}")


if __name__ == "__main__":
    main()
