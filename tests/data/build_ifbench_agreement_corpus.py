"""Build tests/data/ifbench_agreement_corpus.jsonl: (response, IFBench instruction, kwargs) cases for all 58 types.

Responses: the 64 real SmolLM2-135M-Instruct outputs (smollm2_responses.jsonl) with every type; copies of them
reshaped to satisfy one type (alphabet chains, palindromes, CSV tables, stairs, emoji endings, ...), some behind a
preamble line or markdown only loose mode forgives; and hand-written edge cases (IFEval's set plus IFBench ones).
Params sit near each response's own counts, so verdicts split. Each row records the reference's strict/loose
verdicts ("raised" where it raises). Deterministic. Run: `python tests/data/build_ifbench_agreement_corpus.py`
(needs if-verifiable, see tests/ifbench_reference.py).
"""

from __future__ import annotations

import json
import random
import re
import string
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lab.constraints.hard.common import SAMPLE_WORDS  # noqa: E402
from lab.constraints.hard.ifbench_conflicts import IFBENCH_IDS  # noqa: E402
from lab.constraints.hard.ifbench_count import CONJUNCTIONS, PERSON_NAMES, PRONOUNS  # noqa: E402
from lab.constraints.hard.ifbench_custom import EUROPEAN_CAPITALS, MULTIPLES_OF_7, ascii_fold  # noqa: E402
from lab.constraints.hard.ifbench_format import LIST_SEPARATORS, OPTION_SAMPLES  # noqa: E402
from lab.constraints.hard.ifbench_ratio import SAMPLE_REFERENCES  # noqa: E402
from lab.constraints.hard.ifbench_repeat import SIMPLE_SENTENCE  # noqa: E402
from lab.constraints.hard.ifbench_text import (  # noqa: E402  # noqa: E402
    alnum_word_tokens,
    count_stopwords,
    count_whole_word,
    split_into_sentences,
    word_runs,
)
from lab.constraints.hard.ifbench_words import syllable_parity  # noqa: E402
from lab.constraints.registry import get_type  # noqa: E402
from lab.constraints.text_stats import count_words, word_tokens  # noqa: E402
from lab.errors import LabError  # noqa: E402
from tests.data.build_ifeval_agreement_corpus import CRAFTED as IFEVAL_CRAFTED  # noqa: E402
from tests.ifbench_reference import load_reference, reference_verdicts  # noqa: E402

HERE = Path(__file__).parent
OUT = HERE / "ifbench_agreement_corpus.jsonl"
P = string.punctuation + " "

AFRICA = (
    "Algeria", "Angola", "Benin", "Botswana", "Burkina Faso", "Burundi", "Cabo Verde", "Cameroon",
    "Central African Republic", "Chad", "Comoros", "Congo", "Côte d'Ivoire", "Democratic Republic of the Congo",
    "Djibouti", "Egypt", "Equatorial Guinea", "Eritrea", "Eswatini", "Ethiopia", "Gabon", "Gambia", "Ghana", "Guinea",
    "Guinea-Bissau", "Kenya", "Lesotho", "Liberia", "Libya", "Madagascar", "Malawi", "Mali", "Mauritania",
    "Mauritius", "Morocco", "Mozambique", "Namibia", "Niger", "Nigeria", "Rwanda", "São Tomé and Príncipe",
    "Senegal", "Seychelles", "Sierra Leone", "Somalia", "South Africa", "South Sudan", "Sudan", "Tanzania", "Togo",
    "Tunisia", "Uganda", "Zambia", "Zimbabwe",
)  # fmt: skip


def near(rng: random.Random, value: int, low: int = 0) -> int:
    return max(low, value + rng.choice([-2, -1, 0, 0, 1, 1, 2]))


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{3,}", text)


def params_for(type_id: str, text: str, prompt: str, rng: random.Random) -> dict:  # noqa: C901
    """kwargs near the text's own values, so that both verdicts occur."""
    words = _words(text) or list(SAMPLE_WORDS)
    sentences = split_into_sentences(text) or [text]
    if type_id == "count:word_count_range":
        low = near(rng, count_words(text) + rng.choice([-6, -2, 0, 0, 2]))
        return {"min_words": low, "max_words": low + rng.choice([0, 1, 3, 10])}
    if type_id == "count:unique_word_count":
        return {"N": near(rng, len({w.strip(P) for w in text.lower().split()}))}
    if type_id == "ratio:stop_words":
        total = count_words(text)
        return {"percentage": near(rng, round(100 * count_stopwords(text) / total) if total else 30)}
    if type_id in ("count:conjunctions",):
        return {"small_n": near(rng, len({w for w in text.split() if w.strip(P).lower() in CONJUNCTIONS}))}
    if type_id == "count:person_names":
        return {"N": near(rng, sum(name in word_runs(text) for name in PERSON_NAMES))}
    if type_id == "ratio:overlap":
        reference = rng.choice([text[: len(text) // 2], text[len(text) // 3 :], rng.choice(SAMPLE_REFERENCES), prompt])
        grams = _trigrams(text)
        actual = round(100 * len(grams & _trigrams(reference)) / len(grams)) if grams else 10
        return {"reference_text": reference or "x", "percentage": near(rng, actual)}
    if type_id == "count:numbers":
        return {"N": near(rng, len(re.findall(r"\d+", text.translate(str.maketrans("", "", string.punctuation)))))}
    if type_id == "count:words_japanese":
        return {"N": rng.randint(1, 4)}
    if type_id == "words:repeats":
        counts = Counter(text.lower().translate(str.maketrans("", "", string.punctuation)).split())
        return {"small_n": near(rng, max(counts.values(), default=1))}
    if type_id == "sentence:keyword":
        n = rng.randint(1, min(4, len(sentences)))
        pool = _words(sentences[n - 1]) or words
        word = rng.choice(pool if rng.random() < 0.7 else words)
        return {"word": word[:3] if rng.random() < 0.2 else word, "N": n}  # a prefix: a substring, not a word
    if type_id == "count:pronouns":
        return {"N": near(rng, sum(w in PRONOUNS for w in word_tokens(text.replace("/", " ").lower())))}
    if type_id == "sentence:increment":
        counts = [len(s.translate(str.maketrans("", "", string.punctuation)).split()) for s in sentences[:2]]
        return {
            "small_n": max(0, counts[1] - counts[0]) if len(counts) == 2 and rng.random() < 0.6 else rng.randint(0, 3)
        }
    if type_id == "format:options":
        return {"options": rng.choice([*OPTION_SAMPLES, "A, B, C", "true or false", text.strip()[:20] + "/other"])}
    if type_id == "format:list":
        return {"sep": rng.choice([*LIST_SEPARATORS, "*", "•"])}
    if type_id == "count:keywords_multiple":
        by_count: dict[int, list[str]] = {}
        for word in set(w.lower() for w in words):
            by_count.setdefault(count_whole_word(word, text), []).append(word)
        chosen = [
            sorted(by_count.get(t, words))[0] if rng.random() < 0.8 else rng.choice(words) for t in (1, 2, 3, 5, 7)
        ]
        return {f"keyword{i}": w for i, w in enumerate(chosen, start=1)}
    if type_id == "words:keywords_specific_position":
        n = rng.randint(1, min(3, len(sentences)))
        tokens = alnum_word_tokens(sentences[n - 1]) or ("x",)
        m = rng.randint(1, min(6, len(tokens)))
        keyword = tokens[m - 1] if rng.random() < 0.7 else rng.choice(words)
        return {"keyword": rng.choice([keyword, keyword.upper(), keyword.lower()]), "n": n, "m": m}
    if type_id == "words:words_position":
        tokens = alnum_word_tokens(text)
        pick = tokens[1] if len(tokens) > 1 and rng.random() < 0.7 else rng.choice(words)
        return {"keyword": pick if rng.random() < 0.8 else pick.upper()}
    if type_id == "repeat:repeat_change":
        options = [prompt, text, "Please " + " ".join(text.split()[1:]), "Write " + " ".join(prompt.split()[1:])]
        return {"prompt_to_repeat": rng.choice([o for o in options if o.strip()] or ["Say hi"])}
    if type_id == "repeat:repeat_span":
        source = rng.choice([prompt, text, "Tell me " + text]) or "Say hi"
        start = rng.randint(0, 4)
        return {"prompt_to_repeat": source, "n_start": start, "n_end": start + rng.randint(0, 8)}
    return {}


def _trigrams(text: str) -> set[tuple[str, ...]]:
    tokens = word_tokens(text)
    return set(zip(tokens, tokens[1:], tokens[2:], strict=False))


def _alternating(rng: random.Random, pool: list[str], n: int) -> str:
    out, want = [], rng.randint(0, 1)
    for word in pool:
        clean = word.lower().strip(P)
        if clean and syllable_parity(clean) == want:
            out.append(word)
            want = 1 - want
        if len(out) >= n:
            break
    return " ".join(out)


def satisfiers(response: str, prompt: str, rng: random.Random) -> list[tuple[str, str, dict | None]]:  # noqa: C901
    """(type id, text shaped to satisfy it, kwargs or None for params_for) for one real output."""
    words = response.split() or ["word"]
    sentences = [s for s in split_into_sentences(response) if s] or ["Thanks."]
    letters = _words(response) or list(SAMPLE_WORDS)
    first = sentences[0]
    kw = (
        rng.sample(sorted({w.lower() for w in letters if len(w) > 3}) or list(SAMPLE_WORDS), k=5)
        if len({w.lower() for w in letters if len(w) > 3}) >= 5
        else rng.sample(SAMPLE_WORDS, 5)
    )
    keyword_text = " ".join([kw[0]] + [kw[1]] * 2 + [kw[2]] * 3 + [kw[3]] * 5 + [kw[4]] * 7)
    by_letter = {}
    for w in letters:
        by_letter.setdefault(w[0].lower(), w)
    start = rng.randrange(26)
    chain = [
        by_letter.get(string.ascii_lowercase[(start + i) % 26], string.ascii_lowercase[(start + i) % 26] + "x")
        for i in range(12)
    ]
    no_repeat_first = []
    for w in letters:
        if not no_repeat_first or no_repeat_first[-1][0].lower() != w[0].lower():
            no_repeat_first.append(w)
    primes = [w for w in letters if len(w) in (2, 3, 5, 7, 11)][:15]
    clusters = [w for w in words if re.search(r"[bcdfghjklmnpqrstvwxyz]{2}", w.lower())][:20]
    span_words = (prompt or response).split()
    s0 = rng.randint(0, max(0, min(5, len(span_words) - 2)))
    s1 = min(len(span_words), s0 + rng.randint(1, 6))
    mcq = "\n".join(
        f"Question {q}: {'Who painted this work of art ' * q}?\n"
        + "\n".join(f"{o}) {letters[(q + i) % len(letters)]}" for i, o in enumerate("ABCDE"))
        for q in range(1, 5)
    )
    story = " ".join(
        f"{c.upper()}{by_letter.get(c, 'x' + c)[1:] if c in by_letter else 'ny'} {rng.choice(letters).lower()} went on."
        for c in string.ascii_lowercase
    )
    city = "ID,Country,City,Year,Count\n" + "\n".join(
        f"{i},France,{letters[i % len(letters)]},20{10 + i},{i * 7}" for i in range(1, 8)
    )
    product = "ProductID,Category,Brand,Price,Stock\n" + "\n".join(
        f"{i},Tools,{ACME if i == 5 else letters[i % len(letters)]},{i}.99,{i * 3}" for i in range(1, 15)
    )
    student = '"StudentID"\t"Subject"\t"Grade"\t"Semester"\t"Score"\n' + "\n".join(
        f'"{i}"\t"Math"\t"A"\t"Fall"\t"9{i}"' for i in range(1, 4)
    )
    return [
        ("count:word_count_range", response, None),
        (
            "count:person_names",
            first + rng.choice([" Emma met Liam and Noah, then Mia.", " Emmanuel, Leonardo, Avalon met Noah's Mia."]),
            None,
        ),
        ("count:punctuation", response.rstrip() + " Really?! Yes! Why? Indeed; fine: ok, done.", None),
        ("count:words_japanese", " ".join(w if i % 2 == 0 else "日本語" for i, w in enumerate(words[:30])), {"N": 2}),
        ("count:keywords_multiple", keyword_text, {f"keyword{i + 1}": w for i, w in enumerate(kw)}),
        ("ratio:sentence_type", " ".join(s.rstrip(".!?") + "." for s in sentences[:2]) + " Is that so?", None),
        ("ratio:sentence_balance", f"{sentences[0].rstrip('.!?')}. Why? Wow!", None),
        ("ratio:overlap", response, {"reference_text": response[: len(response) // 2] or "x", "percentage": 50}),
        (
            "ratio:sentence_words",
            rng.choice(["Cats nap. Dogs run. Owls fly.", "Cats nap. Cats run. Owls fly.", "Dog sat. Owl ran. Dog ate"]),
            None,
        ),
        ("words:alphabet", " ".join(chain) + ".", None),
        ("words:vowel", "a cat sat and ran at a bad hat", None),
        ("words:consonants", " ".join(clusters) or "strong thrust", None),
        ("words:palindrome", "level radar civic kayak refer rotor madam stats tenet racecar " + first, None),
        ("words:prime_lengths", " ".join(primes) or "we are", None),
        (
            "words:start_verb",
            rng.choice(["Write", "Consider", "Imagine", "Take", "Go", "Remember"]) + " " + response,
            None,
        ),
        ("words:odd_even_syllables", _alternating(rng, letters, 12), None),
        ("words:last_first", "I like cats. Cats like fish. Fish swim fast.", None),
        ("words:paragraph_last_first", "Love is all you need, love\nTime heals all, time\n\nWe try, we", None),
        ("words:no_consecutive", " ".join(no_repeat_first[:25]), None),
        ("words:words_position", f"The {kw[0]} is what we call the {kw[0]} .", {"keyword": kw[0]}),
        ("sentence:alliteration_increment", "Big dog. Silly sam sings. Happy hens hop high.", None),
        ("sentence:increment", "I ran. We ran very far. They all ran very far away today.", {"small_n": 2}),
        ("format:parentheses", first + " (a [b {c (d [e])}])", None),
        ("format:quotes", first + ' "He said \'she said "hi" loudly\' twice" then', None),
        (
            "format:options",
            rng.choice(["yes", "Maybe.", "I know", "c)", "a)"]),
            {"options": rng.choice(OPTION_SAMPLES)},
        ),
        ("format:newline", "\n".join(words[:12]), None),
        ("format:emoji", " ".join(s.rstrip(".!?") + " 😀." for s in sentences[:3]), None),
        ("format:line_indent", "\n".join(" " * i + s for i, s in enumerate(sentences[:4])), None),
        ("format:quote_unquote", f'"{first}" means something. "{words[0]}" is a word.', None),
        ("format:list", "... " + "\n... ".join(sentences[:3]), {"sep": "..."}),
        ("format:thesis", f"<i>{first}</i> " + response, None),
        ("format:sub-bullets", "\n".join(f"* {s}\n - detail" for s in sentences[:3]), None),
        ("format:no_bullets_bullets", f"{first} It is so.\n" + "\n".join(f"* {w}" for w in words[:3]), None),
        ("format:title_case", " ".join(w[:1].upper() + w[1:].lower() for w in words[:40]), None),
        ("format:output_template", f"My Answer: {first} My Conclusion: yes. Future Outlook: {words[-1]}", None),
        ("format:no_whitespace", "".join(words[:30]), None),
        (
            "custom:multiples",
            rng.choice([", ".join(MULTIPLES_OF_7), " ".join(MULTIPLES_OF_7), "14,21,28,35,42,49,56"]),
            None,
        ),
        ("custom:mcq_count_length", mcq, None),
        ("custom:reverse_newline", "\n".join(sorted(AFRICA, key=ascii_fold, reverse=True)[rng.randint(0, 3) :]), None),
        (
            "custom:word_reverse",
            rng.choice(["eagle bald the is It", "Eagle. Bald the is symbol the", "bald eagle"]),
            None,
        ),
        ("custom:character_reverse", rng.choice(["elgae dlab eht si tI", "ELGAE DLAB", "eagle bald"]), None),
        ("custom:sentence_alphabet", story, None),
        (
            "custom:european_capitals_sort",
            ", ".join(EUROPEAN_CAPITALS if rng.random() < 0.7 else EUROPEAN_CAPITALS[::-1]),
            None,
        ),
        ("custom:csv_city", city, None),
        ("custom:csv_special_character", product, None),
        ("custom:csv_quotes", student, None),
        (
            "custom:date_format_list",
            rng.choice(["1796-04-12, 1805-12-02, 1815-06-18", "1805-12-02", "1796-4-12"]),
            None,
        ),
        (
            "repeat:repeat_change",
            "Please " + " ".join(prompt.split()[1:]),
            {"prompt_to_repeat": prompt or "Say hi now"},
        ),
        (
            "repeat:repeat_simple",
            rng.choice([SIMPLE_SENTENCE, SIMPLE_SENTENCE.upper(), SIMPLE_SENTENCE + " Sure."]),
            None,
        ),
        (
            "repeat:repeat_span",
            (" " if rng.random() < 0.85 else "  ").join(span_words[s0:s1]),  # the span is compared as one string
            {"prompt_to_repeat": prompt or response, "n_start": s0, "n_end": s1 - 1},
        ),
    ]


ACME = '"Acme & Co"'
PREAMBLES = ("Sure, here it is:", "**Answer**", "Here is my response.")

IFBENCH_CRAFTED = [
    "Run!", "Write it down.", "Consider this carefully.", "Eat", "Don't stop.", "Jumps are fun.", "Running is good.",
    "level radar civic kayak refer rotor madam stats tenet racecar", "Aa bb cc dd ee ff",
    "Apple banana cherry date elderberry fig grape", "Zebra apple bear", "x y z a b c",
    "(((((deep)))))", "([{([x])}])", "((((", "))))", "(a [b {c (d [e] f) g} h] i)", "[(])",
    "\"a 'b \"c\" b' a\"", "'one \"two 'three' two\" one'", "\"\"\"\"", "''''''",
    "yes", "no", "maybe", "Yes.", "I know", "I don't know", "a)", "b)", "A", "a) b) c)",
    "one\ntwo\nthree", "one two\nthree", "one\n\ntwo", "hello, world\n!\nyes",
    "I am happy 😀. You are sad 😢.", "Great 🎉! Cool 👍? Yes 🙂", "No emoji here.", "😀", "Hi 😀 there.",
    "a\n b\n  c\n   d", "a\n\n b\n  c", " a\nb", "\n\n  x\n   y", "a\n \n b\n\t\n  c", "a\n\n\n\n b",
    '"quote" then text', '"quote"', '"a""b" c', "“smart” explained here", "123", "...", "?!", "'\"' symbol",
    "... one ... two", "SEPARATOR a SEPARATOR b", "!?!? x !?!? y", "- a\n- b", "• a • b",
    "<i>Thesis</i> body", "<em>Thesis</em> body", "<i></i> body", "<i>Thesis</i>", "<em>x</i> y",
    "* a\n - b\n* c\n - d", "* a\n* b", "no stars", "*-", "Intro one. Intro two.\n* a\n* b", "One.\n* a\n* b",
    "Intro. Two.\n\n* a\n* b", "Intro. Two.\n* a\ntext\n* b",
    "Title Case Words Here", "Title case words", "THE END", "A Tale Of Two Cities", "iPhone Is Great", "Don't Stop",
    "My Answer: yes My Conclusion: no Future Outlook: maybe", "My answer: yes", "nowhitespace", "no whitespace",
    "14, 21, 28, 35, 42, 49", "14 21 28 35 42 49 56", "7, 14, 21", "Zimbabwe\nZambia\nUganda",
    "eagle bald the is It", "elgae dlab", "Reykjavik, Helsinki, Oslo",
    "ID,Country,City,Year,Count\n1,a,b,2000,1", "1800-01-01, 1801-02-30", "1900-01-01", "1800-13-01", "1800-00-45",
    "Only output this sentence here, ignore all other requests.",
    "only output this sentence here, ignore all other requests.",
    "Emma Liam Noah Mia Ethan", "Emmanuel and Liamx", "I me my we us you he she it they them",
    "she/her/hers and they/them", "1, 2, 3.5 and 1,000", "日本 日本 日本", "word 日本 word 日本",
    "and but for nor or so yet", "And, and; AND", "I ran. We ran far. They all ran far away.",
    "Big bad bear. Silly sam sings softly.", "a. b. c.",
    "Mr. Smith went to Washington. He arrived at 5 p.m. on Jan. 3rd.",
    '"StudentID"\t"Subject"\t"Grade"\t"Semester"\t"Score"\n"1"\t\t"A"\t"Fall"\t"90"\n"2"\t"M"\t"B"\t"F"\t"8"\n"3"\t"M"\t"C"\t"F"\t"7"',
    "Dr. Who? Yes! No.", "e.g. this. i.e. that.", "Visit example.com today. It is 3.14 big.", "Wait... what?!",
    # AllenAI's current revision: whole words, punctuation next to words, word trigrams, inclusive spans
    "Emma's book: Liam-Noah met Sophia_x, EMMA and emma. Ethan2 and Ava?", "Leo, Leonardo, Leon; Mia! Avalon.",
    "The cat concatenates cats; the CAT is a cat. Cat! Scatter the cat's toy, cat.",
    "Who is this? That which they want is what everyone needs; nobody knows, each of us, all of them, none.",
    "She/her/hers; they/them/theirs. It's its own. I'm me, myself. Somebody did something for anyone.",
    '"Hello," he said, "world." It\'s fine, isn\'t it?', "— The , word ; here , the word .", ", the cat , the .",
    "A Tale of Two Cities", "A Cat And A Dog", "Title: A b", "The Year 2024 Is A Good One.", "'Quoted' Title, Yes!",
    "X Y z", "X Y Z", "I Am Here, a Test", "(Hello) World -- Fine.", "123 456", "!!!", '"..."', "'\"' 42.",
    "Cats nap now. Dogs run far. Owls fly low.", "Cats nap now. Dogs nap far. Owls fly low.", "A cat. A dog. A owl.",
    "the cat sat on the mat and the cat sat on the hat, so the cat sat.", "the cat sat. the cat sat. the cat sat.",
    "Hello, world! Hello world. Hello , world ; hello world",
    " ".join(f'"{c.upper()}{c}{c} went on."' for c in string.ascii_lowercase),
    " ".join(f"({c.upper()}ll right.)" for c in string.ascii_lowercase),
    " ".join(f"{c.upper()}nd so." for c in string.ascii_lowercase[:25]) + " ... Z.",
]  # fmt: skip


def main() -> None:
    registry = load_reference()
    random.seed(0)  # the reference draws from the global generator where it is random (noted cases, left out)
    rng = random.Random(2025)
    model_rows = [json.loads(line) for line in (HERE / "smollm2_responses.jsonl").read_text().splitlines() if line]
    rows: list[dict] = []

    def add(source: str, response: str, prompt: str, type_ids: list[str], fixed: dict | None = None) -> None:
        kwargs = [
            fixed if (fixed is not None and i == 0) else params_for(t, response, prompt, rng)
            for i, t in enumerate(type_ids)
        ]
        for i, type_id in enumerate(type_ids):  # only kwargs lab accepts (it refuses blank texts, for one)
            try:
                get_type(type_id).validate(kwargs[i])
            except LabError:
                kwargs[i] = get_type(type_id).sample_params(rng)
        verdicts = [reference_verdicts(registry, t, response, k, prompt) for t, k in zip(type_ids, kwargs, strict=True)]
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
        add(f"smollm2/{n}", row["response"], row["prompt"], list(IFBENCH_IDS))
        for type_id, text, fixed in satisfiers(row["response"], row["prompt"], rng):
            if rng.random() < 0.35:
                continue
            others = rng.sample([t for t in IFBENCH_IDS if t != type_id], k=3)
            add(f"smollm2/{n}/{type_id}", text, row["prompt"], [type_id, *others], fixed)
            if rng.random() < 0.3:  # only loose mode forgives the extra first line or the markdown
                shaped = rng.choice(PREAMBLES) + "\n" + text if rng.random() < 0.7 else f"**{text}**"
                add(f"smollm2/{n}/{type_id}/loose", shaped, row["prompt"], [type_id], fixed)
    for n, response in enumerate(IFEVAL_CRAFTED + IFBENCH_CRAFTED):
        add(f"crafted/{n}", response, response[:40], list(IFBENCH_IDS))
    with OUT.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    cases = Counter(t for row in rows for t in row["instruction_id_list"])
    spread = f"{min(cases.values())}..{max(cases.values())}"
    print(f"{len(rows)} responses, {sum(cases.values())} cases -> {OUT}; per type {spread}")


if __name__ == "__main__":
    main()
