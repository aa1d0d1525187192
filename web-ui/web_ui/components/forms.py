"""Form parts shared by the sign-in, sign-up, confirmation, reset and security pages."""

from __future__ import annotations

import reflex as rx

from ..state import AuthState
from .controls import alert_text, callout_when


def field_error(name: str, error: rx.Var[str]) -> rx.Component:
    return alert_text(error, id=f"{name}-error")


def form_field(
    label: str,
    name: str,
    error: rx.Var[str],
    *,
    type: str = "text",
    auto_complete: str = "off",
    hint: rx.Component | None = None,
    auto_focus: bool = False,
    value: rx.Var[str] | None = None,
    on_change: rx.EventHandler | None = None,
) -> rx.Component:
    # With both, the input is controlled: it shows the state's value and reports each change.
    extra = {} if value is None else {"value": value, "on_change": on_change}
    if auto_focus:
        extra["auto_focus"] = True
    return rx.vstack(
        rx.el.label(label, html_for=name, class_name="field-label"),
        rx.input(
            id=name,
            name=name,
            type=type,
            auto_complete=auto_complete,
            size="3",
            width="100%",
            custom_attrs={
                "aria-invalid": rx.cond(error != "", "true", "false"),
                "aria-describedby": f"{name}-error {name}-hint",
            },
            **extra,
        ),
        hint if hint is not None else rx.fragment(),
        field_error(name, error),
        spacing="1",
        width="100%",
    )


def email_field(auto_complete: str = "email", *, carried: bool = True, **options) -> rx.Component:
    """The e-mail address. `carried`: a controlled field that shows the address carried from
    the previous form (sign-up to confirmation, sign-in, reset)."""
    if carried:
        options |= {"value": AuthState.email_field, "on_change": AuthState.type_email}
    return form_field(
        "E-mail address",
        "email",
        AuthState.email_error,
        type="email",
        auto_complete=auto_complete,
        **options,
    )


def password_field(label: str, auto_complete: str, *, with_rules: bool = False) -> rx.Component:
    return form_field(
        label,
        "password",
        AuthState.password_error,
        type="password",
        auto_complete=auto_complete,
        hint=password_rules() if with_rules else None,
    )


def emailed_code_field(label: str) -> rx.Component:
    return form_field(label, "code", AuthState.code_error, auto_complete="one-time-code")


def password_rules() -> rx.Component:
    return rx.box(
        rx.text("The password needs:", size="2", color_scheme="gray"),
        rx.el.ul(
            rx.foreach(AuthState.password_rules, lambda rule: rx.el.li(rule)),
            class_name="rules",
        ),
        id="password-hint",
    )


def messages(notice: rx.Var[str], error: rx.Var[str]) -> rx.Component:
    """A form's success notice and its error that belongs to no field."""
    return rx.fragment(
        callout_when(notice, icon="info", color_scheme="green", role="status"),
        callout_when(error, icon="triangle_alert", color_scheme="red", role="alert"),
    )


def submit_button(label: str, busy: rx.Var[bool] = AuthState.busy) -> rx.Component:
    return rx.button(
        rx.cond(busy, rx.spinner(size="2"), rx.fragment()),
        label,
        type="submit",
        size="3",
        width="100%",
        disabled=busy,
    )


def secondary_button(label: str, on_click: rx.EventHandler) -> rx.Component:
    return rx.button(label, variant="ghost", type="button", on_click=on_click)


def auth_form(
    *fields: rx.Component,
    submit: str,
    on_submit: rx.EventHandler,
    after: tuple[rx.Component, ...] = (),
    reset_on_submit: bool = False,
    busy: rx.Var[bool] = AuthState.busy,
) -> rx.Component:
    """One form of the sign-in pages: its fields, the submit button, then any other buttons."""
    return rx.form(
        rx.vstack(*fields, submit_button(submit, busy), *after, spacing="4", width="100%"),
        on_submit=on_submit,
        reset_on_submit=reset_on_submit,
        width="100%",
    )


def mfa_code_field(name: str, error: rx.Var[str]) -> rx.Component:
    return form_field(
        "Code from your authenticator app",
        name,
        error,
        auto_complete="one-time-code",
        auto_focus=True,
        hint=rx.text(
            "The 6-digit code the app shows for this account now.",
            id=f"{name}-hint",
            size="2",
            color_scheme="gray",
        ),
    )
