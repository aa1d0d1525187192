"""The security page: two-step sign-in with an authenticator app, and the account (download
all data, delete the account)."""

from __future__ import annotations

import reflex as rx

from ..components.account import account_section
from ..components.forms import auth_form, messages, mfa_code_field, secondary_button
from ..components.layout import content_page
from ..components.qr_code import qr_code
from ..state import AuthState, SecurityState


def totp_enrolment() -> rx.Component:
    """The new secret as text and as the otpauth:// link (which a phone's authenticator app
    opens), then the app's first code."""
    return rx.vstack(
        rx.text(
            "Add this account to an authenticator app (for example on your phone): scan the "
            "QR code, open the link on the phone, or type the key into the app.",
            size="2",
        ),
        rx.box(
            qr_code(value=SecurityState.totp_uri, size=176, title="QR code of the key"),
            id="totp-qr",
            custom_attrs={"role": "img", "aria-label": "QR code of the key"},
        ),
        rx.link(
            "Open in an authenticator app",
            href=SecurityState.totp_uri,
            id="totp-uri",
            size="2",
        ),
        rx.el.label("Key", html_for="totp-secret", class_name="field-label"),
        rx.code(SecurityState.totp_secret, id="totp-secret", class_name="totp-secret"),
        auth_form(
            mfa_code_field("totp_code", SecurityState.code_error),
            submit="Turn on two-step sign-in",
            on_submit=SecurityState.verify_totp,
            after=(secondary_button("Cancel", SecurityState.cancel_totp),),
            reset_on_submit=True,
            busy=SecurityState.busy,
        ),
        spacing="3",
        width="100%",
    )


def security_page() -> rx.Component:
    return content_page(
        "Security",
        rx.text(AuthState.user_email, size="2", color_scheme="gray"),
        messages(SecurityState.notice, SecurityState.form_error),
        rx.heading("Two-step sign-in", size="4", as_="h2"),
        rx.cond(
            SecurityState.loaded,
            rx.cond(
                SecurityState.totp_enabled,
                rx.vstack(
                    rx.text(
                        "On: signing in asks for the code of your authenticator app.",
                        id="totp-status",
                    ),
                    rx.button(
                        "Turn off two-step sign-in",
                        variant="soft",
                        color_scheme="red",
                        on_click=SecurityState.disable_totp,
                        disabled=SecurityState.busy,
                    ),
                    width="100%",
                ),
                rx.cond(
                    SecurityState.totp_secret != "",
                    totp_enrolment(),
                    rx.vstack(
                        rx.text("Off: your password alone signs you in.", id="totp-status"),
                        rx.button(
                            "Set up an authenticator app",
                            on_click=SecurityState.start_totp,
                            disabled=SecurityState.busy,
                        ),
                        width="100%",
                    ),
                ),
            ),
            rx.spinner(size="2"),
        ),
        account_section(),
        spacing="4",
        card_class="auth-card",
    )
