"""Errors with stable codes, so a message can be looked up and tests can check the cause."""

from __future__ import annotations


class ScreeningError(Exception):
    code = "E000"

    def __init__(self, message: str):
        super().__init__(f"[{self.code}] {message}")
        self.message = message


class RuleFileError(ScreeningError):
    """A rules file could not be read or is invalid. Names the file and, where known, the rule."""

    code = "E100"

    def __init__(self, path: object, message: str, rule: str | None = None):
        where = f"{path}" + (f" (rule {rule})" if rule else "")
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.rule = rule


class PatternSyntaxError(RuleFileError):
    code = "E101"


class ModelFileError(ScreeningError):
    """A model file is missing, outside models/, or its hash does not match its metadata."""

    code = "E200"


class InputError(ScreeningError):
    """An input record could not be screened (no text, not an object, bad encoding…)."""

    code = "E300"
