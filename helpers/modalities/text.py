"""Digits written as text, made offline, and the series' one tokeniser: characters to ids.

A digit can be written many ways: "7", "seven", "VII", "sieben", "sept", "siete". `make_texts`
draws such spellings with random casing, spacing and typos. `split_spellings` keeps some spellings
of every digit out of training, so that a held-out set asks whether an encoder generalises to words
it never saw, not only whether it shrugs off new noise on words it knows. `tokenise` turns any text
into character ids: it needs no vocabulary file and never meets an unknown word (a typo is just
other known characters).

Taught in 01_modalities (text as token ids) and 06_any_to_any_search (texts bound to images).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import torch

# Six ways of writing each digit 0-9. Roman numerals have no zero; medieval scribes wrote N (nulla).
NUMERALS: dict[str, tuple[str, ...]] = {
    "digit": tuple("0123456789"),
    "english": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "roman": ("N", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX"),
    "german": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
    "french": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    "spanish": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
}
# The characters the tokeniser knows: id 0 pads, id 1 stands for any other character.
ALPHABET = " 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZäöüéèçñßÄÖÜÉ.,-'"
PAD_ID, UNKNOWN_ID = 0, 1
VOCABULARY_SIZE = len(ALPHABET) + 2  # every id `tokenise` can give
_IDS = {character: index + 2 for index, character in enumerate(ALPHABET)}

Spellings = Mapping[int, Sequence[str]]  # digit -> the ways it may be written


# --- spellings, and holding some of them out ----------------------------------------------------


def spellings(styles: Sequence[str] = tuple(NUMERALS)) -> dict[int, tuple[str, ...]]:
    """Every distinct spelling of each digit in `styles`: {digit: (spelling, ...)}.

    Spellings that differ only in case count once ("six" is English and French).
    Taught in 06_any_to_any_search.
    """
    unknown = set(styles) - set(NUMERALS)
    if unknown or not styles:
        raise ValueError(f"unknown styles {sorted(unknown)}; choose from {list(NUMERALS)}.")
    table: dict[int, tuple[str, ...]] = {}
    for digit in range(10):
        first: dict[str, str] = {}  # lower-case form -> the spelling seen first
        for style in styles:
            first.setdefault(NUMERALS[style][digit].lower(), NUMERALS[style][digit])
        table[digit] = tuple(first.values())
    return table


def _split_by_style(held_out_styles: Sequence[str]) -> tuple[dict, dict]:
    """Training: the other styles; held out: the held-out styles' words not spelled in training."""
    train = spellings([style for style in NUMERALS if style not in held_out_styles])
    held_out = {}
    for digit, words in spellings(held_out_styles).items():
        seen = {word.lower() for word in train[digit]}
        unseen = tuple(word for word in words if word.lower() not in seen)
        if unseen:  # French "six" is English "six": no held-out word for 6 then
            held_out[digit] = unseen
    return train, held_out


def _split_at_random(
    held_out_per_digit: int, seed: int, keep_in_training: Sequence[str]
) -> tuple[dict, dict]:
    """Per digit, `held_out_per_digit` spellings drawn at random, never of `keep_in_training`."""
    rng = random.Random(seed)
    train, held_out = {}, {}
    for digit, words in spellings().items():
        kept = {NUMERALS[style][digit].lower() for style in keep_in_training}
        candidates = [word for word in words if word.lower() not in kept]
        if held_out_per_digit >= len(words) or held_out_per_digit > len(candidates):
            raise ValueError(
                f"held_out_per_digit={held_out_per_digit}: digit {digit} has {len(candidates)} "
                f"spellings that may be held out and needs at least one left for training."
            )
        chosen = set(rng.sample(candidates, held_out_per_digit))
        held_out[digit] = tuple(word for word in words if word in chosen)
        train[digit] = tuple(word for word in words if word not in chosen)
    return train, held_out


def split_spellings(
    *,
    held_out_styles: Sequence[str] = (),
    held_out_per_digit: int = 0,
    seed: int = 0,
    keep_in_training: Sequence[str] = ("digit",),
) -> tuple[dict[int, tuple[str, ...]], dict[int, tuple[str, ...]]]:
    """Split the spellings into (training, held out), {digit: spellings} each, none in both.

    Taught in 06_any_to_any_search. Either hold out whole styles (`held_out_styles=("spanish",)`:
    a language whose words share letters with others that are trained on), or
    `held_out_per_digit` spellings of every digit drawn at random (seeded), never from the styles
    in `keep_in_training`. A digit whose held-out spelling is also a training spelling ("six")
    gets no held-out word. Texts made from the held-out spellings test whether a text encoder
    generalises to words it never saw.
    """
    unknown = (set(held_out_styles) | set(keep_in_training)) - set(NUMERALS)
    if unknown:
        raise ValueError(f"unknown styles {sorted(unknown)}; choose from {list(NUMERALS)}.")
    if bool(held_out_styles) == (held_out_per_digit > 0):
        raise ValueError(
            "Choose one way to hold spellings out: held_out_styles=(...) or held_out_per_digit=n."
        )
    if held_out_styles:
        if set(held_out_styles) >= set(NUMERALS):
            raise ValueError("Keep at least one style for training.")
        return _split_by_style(held_out_styles)
    return _split_at_random(held_out_per_digit, seed, keep_in_training)


# --- noisy texts --------------------------------------------------------------------------------


def _add_typo(word: str, rng: random.Random) -> str:
    """One typo: swap two neighbouring characters, drop one, double one or replace one."""
    if len(word) < 2:
        return word + word if rng.random() < 0.5 else word
    position = rng.randrange(len(word) - 1)
    kind = rng.choice(("swap", "drop", "double", "replace"))
    if kind == "swap":
        return word[:position] + word[position + 1] + word[position] + word[position + 2 :]
    if kind == "drop":
        return word[:position] + word[position + 1 :]
    if kind == "double":
        return word[: position + 1] + word[position] + word[position + 1 :]
    return word[:position] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[position + 1 :]


def _random_casing(word: str, rng: random.Random) -> str:
    style = rng.choice(("as is", "lower", "upper", "title", "random"))
    if style == "lower":
        return word.lower()
    if style == "upper":
        return word.upper()
    if style == "title":
        return word.title()
    if style == "random":
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in word)
    return word


def _digits_of(table: Spellings) -> list[int]:
    """The digits that `table` spells, checked: 0-9, each with at least one word."""
    digits = sorted(table)
    if not digits or any(digit not in range(10) or not table[digit] for digit in digits):
        raise ValueError(f"spellings must map digits 0-9 to words, got {dict(table)!r}.")
    return digits


def random_digit_text(
    digit: int, rng: random.Random, *, spellings: Spellings | None = None, typo_rate: float = 0.3
) -> str:
    """`digit` in one of its spellings, with random casing, spacing and (sometimes) a typo.

    Written digits ("7") keep their form; only words get casing and typos.
    Taught in 06_any_to_any_search.
    """
    if digit not in range(10):
        raise ValueError(f"digit must be an integer from 0 to 9, got {digit!r}.")
    table = _ALL_SPELLINGS if spellings is None else spellings
    if digit not in table:
        raise ValueError(f"spellings has no word for digit {digit}.")
    word = rng.choice(list(table[digit]))
    if not word.isdigit():
        word = _random_casing(word, rng)
        if rng.random() < typo_rate:
            word = _add_typo(word, rng)
    if rng.random() < 0.15:
        word = " ".join(word)  # spaced out: "s e v e n"
    return " " * rng.randrange(3) + word + " " * rng.randrange(3)


def make_texts(
    count: int, *, seed: int, spellings: Spellings | None = None, typo_rate: float = 0.3
) -> tuple[list[str], torch.Tensor]:
    """`count` digit texts, an equal share of each digit in shuffled order, and labels (count,).

    Taught in 06_any_to_any_search. `spellings` (from `split_spellings` or `spellings`) limits the
    words used, and the digits: only digits it spells are drawn. By default every spelling of
    `NUMERALS`. The same seed gives the same texts on every machine (Python's `random.Random`).
    """
    digits = _digits_of(_ALL_SPELLINGS if spellings is None else spellings)
    if count < len(digits):
        raise ValueError(
            f"count={count} is too small: ask for at least {len(digits)} (one per digit)."
        )
    rng = random.Random(seed)
    labels = [digits[i % len(digits)] for i in range(count)]
    rng.shuffle(labels)
    texts = [random_digit_text(y, rng, spellings=spellings, typo_rate=typo_rate) for y in labels]
    return texts, torch.tensor(labels, dtype=torch.int64)


# --- the tokeniser ------------------------------------------------------------------------------


def tokenise(texts: Sequence[str], *, length: int | None = None) -> torch.Tensor:
    """Texts as character ids (N, length) int64, padded with 0; unknown characters become 1.

    Taught in 01_modalities. Leading and trailing spaces are dropped. `length=None` pads to the
    longest text; a text longer than a given `length` raises ValueError rather than being cut.
    """
    if isinstance(texts, str):
        raise ValueError("Pass a list of texts, e.g. [text], not a single string.")
    if not texts:
        raise ValueError("Pass at least one text.")
    for row, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"Text {row} is {text!r}; every text needs at least one character.")
    stripped = [text.strip() for text in texts]
    longest = max(len(text) for text in stripped)
    length = longest if length is None else length
    if longest > length:
        raise ValueError(
            f"A text has {longest} characters but length={length}; raise length or pass None."
        )
    ids = torch.full((len(texts), length), PAD_ID, dtype=torch.int64)  # (N, length)
    for row, text in enumerate(stripped):
        ids[row, : len(text)] = torch.tensor([_IDS.get(c, UNKNOWN_ID) for c in text])
    return ids


def decode(ids: torch.Tensor) -> list[str]:
    """Character ids (N, length) back to texts; padding is dropped, unknown characters read "?".

    Taught in 01_modalities.
    """
    if ids.ndim != 2:
        raise ValueError(f"decode reads ids shaped (N, length), got {tuple(ids.shape)}.")
    characters = {index: character for character, index in _IDS.items()} | {UNKNOWN_ID: "?"}
    return ["".join(characters.get(i, "") for i in row if i != PAD_ID) for row in ids.tolist()]


_ALL_SPELLINGS = spellings()
