"""The pages before the chat: sign-in (with its authenticator-app step), sign-up, confirmation
and password reset."""

from __future__ import annotations

import reflex as rx

from ..components.forms import (
    auth_form,
    email_field,
    emailed_code_field,
    messages,
    mfa_code_field,
    password_field,
    secondary_button,
)
from ..components.layout import centered_page
from ..federated import federated_buttons
from ..state import AuthState


def auth_card(title: str, *children: rx.Component) -> rx.Component:
    return centered_page(
        rx.card(
            rx.vstack(
                rx.text("Emotion-aware chat", size="3", weight="bold", color_scheme="gray"),
                rx.heading(title, size="6", as_="h1"),
                messages(AuthState.notice, AuthState.form_error),
                *children,
                spacing="4",
                width="100%",
            ),
            class_name="auth-card",
        )
    )


def sign_in_code_form() -> rx.Component:
    """The second step of a sign-in when the account has two-step sign-in on."""
    return auth_form(
        rx.text("Two-step sign-in is on for this account.", size="2", color_scheme="gray"),
        mfa_code_field("mfa_code", AuthState.code_error),
        submit="Verify and sign in",
        on_submit=AuthState.sign_in_with_code,
        after=(secondary_button("Start again", AuthState.cancel_mfa_step),),
        reset_on_submit=True,
    )


def sign_in_page() -> rx.Component:
    return auth_card(
        "Sign in",
        rx.cond(
            AuthState.mfa_step,
            sign_in_code_form(),
            auth_form(
                email_field("username", auto_focus=True),
                password_field("Password", "current-password"),
                submit="Sign in",
                on_submit=AuthState.sign_in,
            ),
        ),
        federated_buttons(),
        rx.hstack(
            rx.link("Create an account", href="/signup"),
            rx.link("Forgot your password?", href="/reset"),
            justify="between",
            width="100%",
            wrap="wrap",
        ),
        rx.cond(
            AuthState.pending_email != "",
            rx.link("Confirm your account with a code", href="/confirm", size="2"),
        ),
    )


def sign_up_page() -> rx.Component:
    return auth_card(
        "Create an account",
        auth_form(
            email_field(carried=False),
            password_field("Password", "new-password", with_rules=True),
            submit="Create account",
            on_submit=AuthState.sign_up,
        ),
        rx.text("Already have an account? ", rx.link("Sign in", href="/signin"), size="2"),
    )


def confirm_page() -> rx.Component:
    return auth_card(
        "Confirm your account",
        auth_form(
            email_field(),
            emailed_code_field("Confirmation code"),
            submit="Confirm",
            on_submit=AuthState.confirm,
        ),
        rx.hstack(
            secondary_button("Send a new code", AuthState.resend_code(AuthState.email_field)),
            rx.link("Back to sign in", href="/signin"),
            justify="between",
            width="100%",
        ),
    )


def reset_page() -> rx.Component:
    return auth_card(
        "Reset your password",
        rx.cond(
            AuthState.reset_code_sent,
            auth_form(
                emailed_code_field("Code from the e-mail"),
                password_field("New password", "new-password", with_rules=True),
                submit="Set the new password",
                on_submit=AuthState.reset_password,
                after=(secondary_button("Use another e-mail address", AuthState.restart_reset),),
            ),
            auth_form(
                email_field(),
                submit="Send a reset code",
                on_submit=AuthState.request_reset,
            ),
        ),
        rx.link("Back to sign in", href="/signin"),
    )
