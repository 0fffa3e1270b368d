"""The one exception type for mistakes a user can make (bad params, unknown model, bad file)."""

from __future__ import annotations


class LabError(ValueError):
    """A user-facing error. `field` names the input at fault; the message says what is allowed."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:
        message = super().__str__()
        if self.field and not message.startswith(self.field):
            return f"{self.field}: {message}"
        return message
