"""The errors a person can act on. Every message says what is wrong and what to do."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: `str(err)` is a message fit to show a user or an operator."""


class CorpusError(AssistantError):
    """The corpus folder or its manifest is not usable (missing file, bad hash, not UTF-8, empty)."""


class ConfigError(AssistantError):
    """A setting that cannot work with this corpus or machine (the message names the ASSISTANT_ variable)."""


class IndexStateError(AssistantError):
    """The index on disk is missing, stale, corrupt or was built with another model."""


class BadQuestion(AssistantError):
    """A question that cannot be answered as given (empty, too long, binary)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class UnknownAgency(AssistantError):
    """An agency name that matches nothing in the registry; carries the closest known names."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f" Gợi ý: {'; '.join(suggestions)}." if suggestions else ""
        super().__init__(f"Không tìm thấy cơ quan «{name}».{hint}")
        self.name = name
        self.suggestions = suggestions
