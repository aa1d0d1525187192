"""The user's account: deleting it, with everything the chat API keeps about the user.

The chat API deletes the conversations, messages, ratings and profile, then the Cognito user
(`DELETE /me`, idempotent: a failed attempt can simply be repeated). Once it is done, this
browser is signed out the way sign-out does it, in every tab."""

from __future__ import annotations

import reflex as rx

from .api import call_api
from .auth import AuthState
from .services import SIGN_IN_ROUTE, user_message

# What the confirmation names, and what the sign-in page says afterwards.
DELETED_ITEMS = (
    "every conversation and its messages",
    "your ratings and comments",
    "your profile and settings",
    "your sign-in: this e-mail address and password will no longer work",
)
ACCOUNT_DELETED = (
    "Your account is deleted, with your conversations, messages, ratings and profile. "
    "This e-mail address can no longer sign in."
)
DELETE_FAILED = "Your account could not be deleted completely. {reason} Try again: it continues."


class AccountState(rx.State):
    deleting: bool = False
    delete_error: str = ""

    @rx.event
    async def delete_account(self):
        if self.deleting:
            return
        self.delete_error = ""
        self.deleting = True
        yield
        outcome = await call_api(self, "delete_account")
        self.deleting = False
        if outcome.session_ended:
            self.reset()
            yield rx.redirect(SIGN_IN_ROUTE)
            return
        if outcome.error:
            self.delete_error = DELETE_FAILED.format(reason=user_message(outcome.error))
            return
        auth = await self.get_state(AuthState)
        yield await auth.end_session(ACCOUNT_DELETED)
