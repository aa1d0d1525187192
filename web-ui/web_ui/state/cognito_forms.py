"""What the sign-in pages and the security page share: forms whose submit calls Cognito."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from ..cognito import AuthError
from .services import cognito_call


class CognitoForms(rx.State, mixin=True):
    """`busy` while a Cognito call runs, a notice once one succeeded, and a refusal shown next
    to its field (`<field>_error`), or above the form (`form_error`) when the page has no
    such field."""

    busy: bool = False
    notice: str = ""
    form_error: str = ""
    code_error: str = ""

    def _show(self, error: AuthError) -> None:
        target = f"{error.field}_error"
        setattr(self, target if target in self.base_vars else "form_error", error.message)

    async def _cognito(self, call: Callable[..., Any], *args: Any) -> tuple[Any, AuthError | None]:
        """One Cognito call (cognito_call); `busy` ends either way, and a refusal is shown."""
        result, error = await cognito_call(call, *args)
        self.busy = False
        if error:
            self._show(error)
        return result, error
