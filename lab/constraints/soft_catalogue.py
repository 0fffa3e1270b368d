"""The soft-constraint taxonomy as data: one entry per type, grouped by the CFBench categories the paper used.

Each entry: (name, CFBench group, title, param name, param help, choices, phrasings). Every phrasing must read
well with every choice; tests check that each phrasing renders for each choice.
"""

from __future__ import annotations

from typing import NamedTuple


class SoftSpec(NamedTuple):
    name: str
    group: str
    title: str
    param: str
    help: str
    choices: tuple[str, ...]
    phrasings: tuple[str, ...]


# fmt: off
CATALOGUE: tuple[SoftSpec, ...] = (
    SoftSpec(
        "tone", "tone/emotion", "Tone", "tone", "the overall tone of voice",
        ("warm", "enthusiastic", "calm", "serious", "optimistic", "sceptical", "empathetic", "confident", "neutral",
         "urgent", "reassuring", "nostalgic", "playful", "respectful", "encouraging"),
        ("The tone of your response should be {tone}.", "Keep your tone {tone} from beginning to end.",
         "Make the response sound {tone}.", "Write it so that the tone is {tone} throughout."),
    ),
    SoftSpec(
        "emotion", "tone/emotion", "Emotion", "emotion", "the feeling the text should convey",
        ("joy", "sadness", "excitement", "gratitude", "frustration", "hope", "awe", "pride", "relief", "longing",
         "anxiety", "amusement"),
        ("Let the response convey a clear sense of {emotion}.", "Infuse your writing with {emotion}.",
         "The reader should feel {emotion} coming through your words."),
    ),
    SoftSpec(
        "formality", "formality", "Formality", "level", "how formal the register is",
        ("very formal", "formal", "semi-formal", "casual", "very casual and chatty"),
        ("Keep the language {level}.", "Write in a register that is {level}.",
         "The style of your answer should be {level}."),
    ),
    SoftSpec(
        "politeness", "tone/emotion", "Politeness", "manner", "how the reader is addressed",
        ("exceptionally polite and courteous", "blunt and direct", "diplomatic and tactful", "gently apologetic",
         "respectful but firm"),
        ("Be {manner} in how you phrase things.", "Your wording should be {manner}.",
         "Address the reader in a way that is {manner}."),
    ),
    SoftSpec(
        "audience", "audience", "Target audience", "audience", "who the text is written for",
        ("children around eight years old", "teenagers", "complete beginners", "domain experts", "retired people",
         "busy executives", "non-native English speakers", "first-year university students", "software engineers",
         "new parents", "small business owners", "high school teachers"),
        ("Write for an audience of {audience}.", "Tailor the response to {audience}.",
         "Assume your readers are {audience}.", "Make it suitable for {audience}."),
    ),
    SoftSpec(
        "locale", "audience", "Cultural context", "region", "the culture the references should fit",
        ("readers in Japan", "readers in rural India", "a British audience", "readers in Brazil",
         "people living in Scandinavia", "a West African audience", "readers in Australia", "a Canadian audience"),
        ("Adapt the content for {region}, with culturally fitting references.",
         "Make the answer culturally relevant to {region}.", "Tailor the examples and references to {region}."),
    ),
    SoftSpec(
        "authorial_style", "authorial style", "Authorial style", "author", "the writer whose style to imitate",
        ("Ernest Hemingway", "Jane Austen", "William Shakespeare", "Edgar Allan Poe", "Mark Twain",
         "Charles Dickens", "Dr. Seuss", "Oscar Wilde", "Agatha Christie", "Douglas Adams"),
        ("Write in the style of {author}.", "Imitate the writing style of {author}.",
         "Make it read as if {author} had written it."),
    ),
    SoftSpec(
        "writing_style", "form/style", "Writing style", "style", "the kind of text whose style to borrow",
        ("a newspaper report", "an academic paper", "a fairy tale", "a sports commentary", "a travel blog",
         "a product advertisement", "a hard-boiled detective novel", "a nature documentary narration",
         "a motivational speech", "a children's picture book"),
        ("Write it in the style of {style}.", "Give your answer the feel of {style}.",
         "Style the response like {style}."),
    ),
    SoftSpec(
        "form", "form/style", "Text form", "form", "the shape of the whole response",
        ("a short story", "a letter", "a dialogue between two people", "a news report", "a diary entry", "a speech",
         "a set of frequently asked questions with answers", "a short poem", "a product review",
         "a recipe-style guide", "a fable with a moral"),
        ("Write the response as {form}.", "Present your answer in the form of {form}.",
         "Shape the whole answer as {form}."),
    ),
    SoftSpec(
        "genre", "form/style", "Genre", "genre", "the literary genre to borrow from",
        ("science fiction", "mystery", "fantasy", "romance", "horror", "comedy", "adventure", "historical drama"),
        ("Give your answer the flavour of {genre}.", "Weave in elements of {genre}.",
         "Let the response borrow the conventions of {genre}."),
    ),
    SoftSpec(
        "role_play", "role-play", "Role-play", "role", "the character to speak as",
        ("a pirate captain", "a medieval knight", "a friendly robot", "a veteran detective",
         "a kindergarten teacher", "a wise old wizard", "an enthusiastic sports coach", "a museum tour guide",
         "a television news anchor", "a grumpy but kind grandfather", "an astronaut aboard a space station",
         "a Victorian butler"),
        ("Respond as if you were {role}.", "Play the role of {role} while answering.",
         "Answer in character as {role}.", "Take on the persona of {role}."),
    ),
    SoftSpec(
        "expert_persona", "role-play", "Expert persona", "expert", "the professional whose knowledge and voice to use",
        ("a medical doctor", "a lawyer", "a historian", "a software architect", "a financial advisor",
         "a nutritionist", "a physics professor", "an experienced chef", "a child psychologist",
         "an environmental scientist", "a marketing strategist", "a veteran airline pilot"),
        ("Answer from the perspective of {expert}.", "Write as {expert} would, drawing on that expertise.",
         "Respond with the knowledge and voice of {expert}."),
    ),
    SoftSpec(
        "situation", "situation", "Situation", "situation", "the circumstances the text is written for",
        ("the reader is in a hurry and will read it on a phone", "it will be read aloud at a family dinner",
         "it will be posted on a company intranet", "it is a reply to a frustrated customer",
         "it will be printed on a poster in a school hallway", "it will be broadcast on a local radio station",
         "it will be shared in a group chat among friends", "it is part of a welcome pack for new employees",
         "the reader is stressed and anxious about the topic", "it will be presented at a community meeting"),
        ("Write it knowing that {situation}.", "Keep in mind that {situation}, and adapt your answer accordingly.",
         "Assume this situation: {situation}."),
    ),
    SoftSpec(
        "time_setting", "situation", "Time setting", "era", "the period the text should feel written in",
        ("the 1920s", "Victorian England", "the year 2200", "ancient Rome", "the Middle Ages",
         "the early days of the internet in the 1990s", "the Wild West"),
        ("Write as though you were living in {era}.", "Frame your answer as if it had been written in {era}.",
         "Give the response the atmosphere of {era}."),
    ),
    SoftSpec(
        "assumption", "prior condition", "Prior condition", "condition", "a fact about the reader to take into account",
        ("the reader has already tried the obvious solutions", "the reader has no special equipment",
         "the budget is under fifty dollars", "the reader knows nothing about the topic",
         "the reader has only ten minutes", "the reader is working alone", "the reader lives in a small apartment"),
        ("Assume that {condition}.", "Take into account that {condition}.",
         "Your answer should work given that {condition}."),
    ),
    SoftSpec(
        "content_focus", "content focus", "Content focus", "focus", "the aspect to emphasise",
        ("practical steps", "the historical background", "costs and budget", "risks and safety", "the main benefits",
         "common mistakes to avoid", "the underlying science", "the human and emotional side",
         "environmental impact", "long-term consequences", "beginner-friendly tips", "the ethical questions involved"),
        ("Focus mainly on {focus}.", "Put most of the emphasis on {focus}.",
         "Make {focus} the centre of your answer."),
    ),
    SoftSpec(
        "avoid", "inverse", "Things to avoid", "avoid", "content the response must leave out",
        ("any mention of money or prices", "negative or discouraging language", "clichés and stock phrases",
         "discussing politics", "exaggerated claims", "personal opinions", "medical or legal advice", "brand names"),
        ("Avoid {avoid}.", "Steer clear of {avoid}.", "Make sure your answer contains no {avoid}."),
    ),
    SoftSpec(
        "examples", "examples", "Examples", "example", "the kind of illustration to include",
        ("one concrete real-world example", "an analogy from everyday life", "a short hypothetical scenario",
         "a worked example with numbers", "a comparison between two contrasting cases", "a brief personal anecdote",
         "a counterexample"),
        ("Include {example}.", "Illustrate your point with {example}.", "Support the answer with {example}."),
    ),
    SoftSpec(
        "narrative_person", "perspective", "Grammatical person", "person", "the grammatical person of the narration",
        ("the first person (I and we)", "the second person, addressing the reader as you", "the third person"),
        ("Write in {person}.", "Use {person} throughout.", "Tell it in {person}."),
    ),
    SoftSpec(
        "viewpoint", "perspective", "Point of view", "viewpoint", "whose eyes the topic is seen through",
        ("a sceptic", "an optimist", "a historian looking back from the year 2100", "a curious child",
         "someone who has just moved to a new country", "a cautious parent", "a competitor",
         "the natural environment"),
        ("Present the topic from the point of view of {viewpoint}.", "Look at this through the eyes of {viewpoint}.",
         "Adopt the viewpoint of {viewpoint}."),
    ),
    SoftSpec(
        "stance", "perspective", "Stance", "stance", "the position the text takes",
        ("balanced and neutral, presenting both sides", "strongly in favour", "cautiously sceptical",
         "persuasive, urging the reader to act", "critical but fair"),
        ("Take a stance that is {stance}.", "Your position should be {stance}.", "Keep your stance {stance}."),
    ),
    SoftSpec(
        "humour", "humour", "Humour", "style", "the kind of humour",
        ("light-hearted", "witty, with clever wordplay", "dry and deadpan", "gently self-deprecating",
         "absurd and surreal", "full of gentle puns"),
        ("Add humour that is {style}.", "Make it funny in a way that is {style}.",
         "Include some humour and keep it {style}."),
    ),
    SoftSpec(
        "rhetorical_device", "linguistic", "Rhetorical device", "device", "a device the writing should use",
        ("vivid metaphors", "rhetorical questions", "alliteration", "repetition for emphasis",
         "rich sensory imagery", "a striking contrast"),
        ("Make good use of {device}.", "Use {device} to make the writing memorable.",
         "Employ {device} in your answer."),
    ),
    SoftSpec(
        "vocabulary", "linguistic", "Vocabulary", "vocabulary", "the word choice",
        ("simple everyday words", "rich and sophisticated vocabulary", "vocabulary from sailing and the sea",
         "cooking metaphors and kitchen vocabulary", "sports terminology", "gardening imagery",
         "words a young child would know"),
        ("Use {vocabulary}.", "Draw on {vocabulary}.", "Your word choice should lean on {vocabulary}."),
    ),
    SoftSpec(
        "sentence_style", "linguistic", "Sentence style", "sentences", "how sentences are built",
        ("short, punchy sentences", "long, flowing sentences", "a deliberate mix of short and long sentences",
         "simple sentences with one clause each", "sentences in the active voice only"),
        ("Write in {sentences}.", "Use {sentences} throughout.", "Build the text from {sentences}."),
    ),
    SoftSpec(
        "clarity", "linguistic", "Clarity", "approach", "how to keep the text clear",
        ("use plain language a twelve-year-old could follow", "avoid technical jargon entirely",
         "define every technical term you use", "keep to one idea per sentence", "use precise technical terminology"),
        ("For clarity, {approach}.", "Keep it clear: {approach}.", "Make sure to {approach}."),
    ),
    SoftSpec(
        "verbosity", "form/style", "Level of detail", "detail", "how much detail to give",
        ("very concise and to the point", "brief, covering only the essentials", "detailed and thorough",
         "richly elaborated, leaving nothing unexplained"),
        ("Make the response {detail}.", "Keep your answer {detail}.", "The answer should be {detail}."),
    ),
    SoftSpec(
        "organisation", "structure", "Organisation", "order", "the order in which the content unfolds",
        ("the conclusion first, then the reasons", "chronological order", "the problem first, then the solution",
         "a progression from the general to the specific", "a comparison of pros and cons",
         "steps ordered from easiest to hardest"),
        ("Arrange the content as follows: {order}.", "Follow this organisation: {order}.",
         "The structure should be: {order}."),
    ),
    SoftSpec(
        "opening", "structure", "Opening", "opening", "how the response begins",
        ("a surprising fact", "a short question to the reader", "a vivid one-sentence scene", "a relevant quotation",
         "a bold claim", "a one-line summary of the answer"),
        ("Open with {opening}.", "Begin your response with {opening}.", "Start by giving {opening}."),
    ),
    SoftSpec(
        "closing", "structure", "Closing", "closing", "how the response ends",
        ("a question for the reader", "a clear call to action", "a one-sentence summary",
         "an encouraging final thought", "a memorable final image", "a practical next step"),
        ("End with {closing}.", "Finish your response with {closing}.", "Close the answer with {closing}."),
    ),
    SoftSpec(
        "purpose", "purpose", "Purpose", "purpose", "what the text is meant to achieve",
        ("teach the reader something new", "entertain the reader", "reassure a worried reader",
         "warn the reader about a danger", "inspire the reader to try it", "help the reader make a decision"),
        ("The main goal of your response is to {purpose}.", "Write it to {purpose}.", "Above all, aim to {purpose}."),
    ),
)
# fmt: on
