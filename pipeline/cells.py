"""Spreadsheet column letters, without importing a spreadsheet library (openpyxl takes 0.2 s to import,
and intake and the form's layout need only these)."""

from __future__ import annotations


def column_letters(number: int) -> str:
    """1 -> "A", 27 -> "AA"."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_number(letters: str) -> int:
    """ "A" -> 1, "AA" -> 27."""
    number = 0
    for char in letters:
        number = number * 26 + ord(char) - 64
    return number


def split_coordinate(coordinate: str) -> tuple[int, int]:
    """ "C7" -> (7, 3): the row and column numbers of a canonical cell reference."""
    letters = coordinate.rstrip("0123456789")
    return int(coordinate[len(letters) :]), column_number(letters)
