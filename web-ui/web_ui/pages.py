"""The pages: sign-in (with its authenticator-app step), sign-up, confirmation, password reset,
the security page (two-step sign-in) and the chat."""

from __future__ import annotations

import reflex as rx

from .markdown import safe_markdown
from .state import AuthState, ChatMessage, ChatState, ConversationItem, SecurityState

EMOTION_COLORS = {
    "anger": "red",
    "disgust": "grass",
    "fear": "purple",
    "joy": "amber",
    "neutral": "gray",
    "sadness": "blue",
    "surprise": "cyan",
}
SAFETY_NOTICE = (
    "You are not alone. If you are thinking about harming yourself, please reach out now: "
    "in the US call or text 988, in the UK and Ireland call Samaritans on 116 123, or find a "
    "local helpline at findahelpline.com. In immediate danger, call your local emergency number."
)


# --- forms -----------------------------------------------------------------------------------


def field_error(name: str, error: rx.Var[str]) -> rx.Component:
    return rx.cond(
        error != "",
        rx.text(error, id=f"{name}-error", role="alert", color_scheme="red", size="2"),
    )


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


def password_rules() -> rx.Component:
    return rx.box(
        rx.text("The password needs:", size="2", color_scheme="gray"),
        rx.el.ul(
            rx.foreach(AuthState.password_rules, lambda rule: rx.el.li(rule)),
            class_name="rules",
        ),
        id="password-hint",
    )


def callouts() -> rx.Component:
    return rx.fragment(
        rx.cond(
            AuthState.notice != "",
            rx.callout(AuthState.notice, icon="info", color_scheme="green", role="status"),
        ),
        rx.cond(
            AuthState.form_error != "",
            rx.callout(
                AuthState.form_error, icon="triangle_alert", color_scheme="red", role="alert"
            ),
        ),
    )


def auth_card(title: str, *children: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.text("Emotion-aware chat", size="3", weight="bold", color_scheme="gray"),
                rx.heading(title, size="6", as_="h1"),
                callouts(),
                *children,
                spacing="4",
                width="100%",
            ),
            class_name="auth-card",
        ),
        class_name="auth-page",
    )


def submit_button(label: str) -> rx.Component:
    return rx.button(
        rx.cond(AuthState.busy, rx.spinner(size="2"), rx.fragment()),
        label,
        type="submit",
        size="3",
        width="100%",
        disabled=AuthState.busy,
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


def sign_in_code_form() -> rx.Component:
    """The second step of a sign-in when the account has two-step sign-in on."""
    return rx.form(
        rx.vstack(
            rx.text(
                "Two-step sign-in is on for this account.",
                size="2",
                color_scheme="gray",
            ),
            mfa_code_field("mfa_code", AuthState.code_error),
            submit_button("Verify and sign in"),
            rx.button(
                "Start again",
                variant="ghost",
                type="button",
                on_click=AuthState.cancel_mfa_step,
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=AuthState.sign_in_with_code,
        reset_on_submit=True,
        width="100%",
    )


def sign_in_page() -> rx.Component:
    return auth_card(
        "Sign in",
        rx.cond(
            AuthState.mfa_step,
            sign_in_code_form(),
            rx.form(
                rx.vstack(
                    form_field(
                        "E-mail address",
                        "email",
                        AuthState.email_error,
                        type="email",
                        auto_complete="username",
                        auto_focus=True,
                        value=AuthState.email_field,
                        on_change=AuthState.type_email,
                    ),
                    form_field(
                        "Password",
                        "password",
                        AuthState.password_error,
                        type="password",
                        auto_complete="current-password",
                    ),
                    submit_button("Sign in"),
                    spacing="4",
                    width="100%",
                ),
                on_submit=AuthState.sign_in,
                width="100%",
            ),
        ),
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
        rx.form(
            rx.vstack(
                form_field(
                    "E-mail address",
                    "email",
                    AuthState.email_error,
                    type="email",
                    auto_complete="email",
                ),
                form_field(
                    "Password",
                    "password",
                    AuthState.password_error,
                    type="password",
                    auto_complete="new-password",
                    hint=password_rules(),
                ),
                submit_button("Create account"),
                spacing="4",
                width="100%",
            ),
            on_submit=AuthState.sign_up,
            width="100%",
        ),
        rx.text("Already have an account? ", rx.link("Sign in", href="/signin"), size="2"),
    )


def confirm_page() -> rx.Component:
    return auth_card(
        "Confirm your account",
        rx.form(
            rx.vstack(
                form_field(
                    "E-mail address",
                    "email",
                    AuthState.email_error,
                    type="email",
                    auto_complete="email",
                    value=AuthState.email_field,
                    on_change=AuthState.type_email,
                ),
                form_field(
                    "Confirmation code",
                    "code",
                    AuthState.code_error,
                    auto_complete="one-time-code",
                ),
                submit_button("Confirm"),
                spacing="4",
                width="100%",
            ),
            on_submit=AuthState.confirm,
            width="100%",
        ),
        rx.hstack(
            rx.button(
                "Send a new code",
                variant="ghost",
                type="button",
                on_click=AuthState.resend_code(AuthState.email_field),
            ),
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
            rx.form(
                rx.vstack(
                    form_field(
                        "Code from the e-mail",
                        "code",
                        AuthState.code_error,
                        auto_complete="one-time-code",
                    ),
                    form_field(
                        "New password",
                        "password",
                        AuthState.password_error,
                        type="password",
                        auto_complete="new-password",
                        hint=password_rules(),
                    ),
                    submit_button("Set the new password"),
                    rx.button(
                        "Use another e-mail address",
                        variant="ghost",
                        type="button",
                        on_click=AuthState.restart_reset,
                    ),
                    spacing="4",
                    width="100%",
                ),
                on_submit=AuthState.reset_password,
                width="100%",
            ),
            rx.form(
                rx.vstack(
                    form_field(
                        "E-mail address",
                        "email",
                        AuthState.email_error,
                        type="email",
                        auto_complete="email",
                        value=AuthState.email_field,
                        on_change=AuthState.type_email,
                    ),
                    submit_button("Send a reset code"),
                    spacing="4",
                    width="100%",
                ),
                on_submit=AuthState.request_reset,
                width="100%",
            ),
        ),
        rx.link("Back to sign in", href="/signin"),
    )


# --- security --------------------------------------------------------------------------------


class QrCode(rx.Component):
    """A QR code drawn in the browser as inline SVG (qrcode.react): the key never leaves the
    page for an image service."""

    library = "qrcode.react@4.2.0"
    tag = "QRCodeSVG"

    value: rx.Var[str]
    size: rx.Var[int]
    title: rx.Var[str]


qr_code = QrCode.create


def security_messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            SecurityState.notice != "",
            rx.callout(SecurityState.notice, icon="info", color_scheme="green", role="status"),
        ),
        rx.cond(
            SecurityState.error != "",
            rx.callout(
                SecurityState.error, icon="triangle_alert", color_scheme="red", role="alert"
            ),
        ),
    )


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
        rx.form(
            rx.vstack(
                mfa_code_field("totp_code", SecurityState.code_error),
                rx.button(
                    "Turn on two-step sign-in",
                    type="submit",
                    size="3",
                    width="100%",
                    disabled=SecurityState.busy,
                ),
                rx.button(
                    "Cancel",
                    type="button",
                    variant="ghost",
                    on_click=SecurityState.cancel_totp,
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=SecurityState.verify_totp,
            reset_on_submit=True,
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def security_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.link("Back to the chat", href="/", size="2"),
                rx.heading("Security", size="6", as_="h1"),
                rx.text(AuthState.user_email, size="2", color_scheme="gray"),
                security_messages(),
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
                spacing="4",
                width="100%",
            ),
            class_name="auth-card",
        ),
        class_name="auth-page",
    )


# --- chat ------------------------------------------------------------------------------------


def emotion_chip(emotion: rx.Var[str]) -> rx.Component:
    return rx.match(
        emotion,
        *[
            (label, rx.badge(label, color_scheme=color, variant="soft", class_name="emotion"))
            for label, color in EMOTION_COLORS.items()
        ],
        rx.badge(emotion, variant="soft", class_name="emotion"),
    )


def feedback_controls(message: rx.Var[ChatMessage]) -> rx.Component:
    def thumb(rating: str, icon: str, label: str) -> rx.Component:
        chosen = message.rating == rating
        return rx.icon_button(
            rx.icon(icon, size=16),
            variant=rx.cond(chosen, "solid", "ghost"),
            color_scheme=rx.cond(chosen, "iris", "gray"),
            size="1",
            type="button",
            disabled=message.rating_sent,
            on_click=ChatState.choose_rating(message.message_id, rating),
            custom_attrs={"aria-label": label, "aria-pressed": rx.cond(chosen, "true", "false")},
        )

    return rx.vstack(
        rx.hstack(
            thumb("up", "thumbs-up", "Good reply"),
            thumb("down", "thumbs-down", "Bad reply"),
            rx.cond(
                message.rating_sent,
                rx.text("Thanks for your feedback.", size="1", color_scheme="gray"),
            ),
            spacing="2",
            align="center",
        ),
        rx.cond(
            (ChatState.feedback_for == message.message_id) & ~message.rating_sent,
            rx.form(
                rx.vstack(
                    rx.el.label("Comment (optional)", html_for="comment", class_name="field-label"),
                    rx.text_area(
                        id="comment", name="comment", max_length=1000, rows="2", width="100%"
                    ),
                    rx.cond(
                        ChatState.feedback_error != "",
                        rx.text(
                            ChatState.feedback_error, role="alert", color_scheme="red", size="2"
                        ),
                    ),
                    rx.hstack(
                        rx.button("Send feedback", type="submit", size="1"),
                        rx.button(
                            "Cancel",
                            type="button",
                            size="1",
                            variant="soft",
                            color_scheme="gray",
                            on_click=ChatState.cancel_feedback,
                        ),
                    ),
                    spacing="2",
                    width="100%",
                ),
                on_submit=ChatState.send_feedback,
                reset_on_submit=True,
                width="100%",
            ),
        ),
        spacing="2",
        width="100%",
    )


def message_bubble(message: rx.Var[ChatMessage]) -> rx.Component:
    return rx.cond(
        message.role == "user",
        rx.box(
            rx.vstack(
                safe_markdown(message.text, class_name="user-text"),
                rx.cond(message.emotion != "", emotion_chip(message.emotion)),
                align="end",
                spacing="1",
            ),
            class_name="bubble user",
            custom_attrs={"data-role": "user"},
        ),
        rx.box(
            rx.cond(
                message.text == "",
                rx.hstack(rx.spinner(size="1"), rx.text("Thinking…", size="2"), align="center"),
                safe_markdown(message.text, class_name="reply-text"),
            ),
            rx.cond(message.stopped, rx.text("(stopped)", size="1", color_scheme="gray")),
            rx.cond(
                (message.message_id != "") & ~message.streaming & ~message.stopped,
                feedback_controls(message),
            ),
            class_name="bubble assistant",
            custom_attrs={
                "data-role": "assistant",
                "data-message-id": message.message_id,
                "aria-busy": rx.cond(message.streaming, "true", "false"),
            },
        ),
    )


def conversation_row(item: rx.Var[ConversationItem]) -> rx.Component:
    active = ChatState.conversation_id == item.conversation_id
    return rx.hstack(
        rx.button(
            rx.text(item.title, trim="end", class_name="conversation-title"),
            variant=rx.cond(active, "soft", "ghost"),
            color_scheme="gray",
            class_name="conversation-open",
            on_click=ChatState.open_conversation(item.conversation_id),
            custom_attrs={"aria-current": rx.cond(active, "true", "false")},
        ),
        rx.icon_button(
            rx.icon("trash-2", size=14),
            variant="ghost",
            color_scheme="red",
            size="1",
            on_click=ChatState.delete_conversation(item.conversation_id),
            custom_attrs={"aria-label": "Delete conversation " + item.title},
        ),
        width="100%",
        align="center",
        spacing="1",
        class_name="conversation",
    )


def sidebar() -> rx.Component:
    return rx.el.nav(
        rx.button(
            rx.icon("plus", size=16),
            "New chat",
            on_click=ChatState.new_conversation,
            width="100%",
            disabled=ChatState.streaming,
        ),
        rx.heading("History", size="2", as_="h2", color_scheme="gray"),
        rx.cond(
            ChatState.history_error != "",
            rx.text(ChatState.history_error, role="alert", color_scheme="red", size="2"),
        ),
        rx.cond(
            ChatState.conversations.length() > 0,
            rx.vstack(rx.foreach(ChatState.conversations, conversation_row), spacing="1"),
            rx.text("No conversations yet.", size="2", color_scheme="gray"),
        ),
        class_name=rx.cond(ChatState.sidebar_open, "sidebar open", "sidebar"),
        custom_attrs={"aria-label": "Conversation history"},
    )


def composer() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.el.label("Message", html_for="message", class_name="visually-hidden"),
            rx.input(
                id="message",
                name="message",
                placeholder="Write a message and press Enter",
                auto_focus=True,
                disabled=ChatState.streaming,
                max_length=4000,
                auto_complete="off",
                size="3",
                class_name="message-input",
            ),
            rx.cond(
                ChatState.streaming,
                rx.button(
                    rx.icon("square", size=14),
                    "Stop",
                    type="button",
                    size="3",
                    color_scheme="red",
                    variant="soft",
                    on_click=ChatState.stop,
                ),
                rx.button(rx.icon("send", size=16), "Send", type="submit", size="3"),
            ),
            width="100%",
            spacing="2",
        ),
        on_submit=ChatState.send,
        reset_on_submit=True,
        width="100%",
    )


def chat_page() -> rx.Component:
    return rx.box(
        rx.el.header(
            rx.hstack(
                rx.icon_button(
                    rx.icon("menu", size=18),
                    variant="ghost",
                    class_name="menu-button",
                    on_click=ChatState.toggle_sidebar,
                    custom_attrs={
                        "aria-label": "Show conversation history",
                        "aria-expanded": rx.cond(ChatState.sidebar_open, "true", "false"),
                    },
                ),
                rx.heading("Emotion-aware chat", size="4", as_="h1"),
                align="center",
            ),
            rx.hstack(
                rx.text(AuthState.user_email, size="2", color_scheme="gray", class_name="who"),
                rx.link("Security", href="/security", size="2"),
                rx.button("Sign out", variant="soft", size="2", on_click=AuthState.sign_out),
                align="center",
            ),
            class_name="topbar",
        ),
        rx.box(
            sidebar(),
            rx.el.main(
                rx.auto_scroll(
                    rx.cond(
                        ChatState.messages.length() == 0,
                        rx.center(
                            rx.text(
                                "How are you feeling today? Say anything to start.",
                                color_scheme="gray",
                            ),
                            class_name="empty",
                        ),
                    ),
                    rx.foreach(ChatState.messages, message_bubble),
                    class_name="messages",
                    custom_attrs={"aria-live": "polite"},
                    id="messages",
                ),
                rx.cond(
                    ChatState.safety_notice,
                    rx.callout(
                        SAFETY_NOTICE,
                        icon="heart_handshake",
                        color_scheme="orange",
                        role="note",
                        class_name="safety",
                    ),
                ),
                rx.cond(
                    ChatState.error != "",
                    rx.callout(
                        rx.hstack(
                            rx.text(ChatState.error),
                            rx.cond(
                                ChatState.can_retry,
                                rx.button(
                                    "Retry", size="1", on_click=ChatState.retry, type="button"
                                ),
                            ),
                            align="center",
                            justify="between",
                            width="100%",
                            wrap="wrap",
                        ),
                        icon="triangle_alert",
                        color_scheme="red",
                        role="alert",
                    ),
                ),
                rx.cond(
                    ChatState.limit_notice != "",
                    rx.callout(
                        ChatState.limit_notice,
                        icon="clock",
                        color_scheme="amber",
                        role="status",
                        id="limit-notice",
                    ),
                ),
                composer(),
                rx.cond(
                    ChatState.usage_summary != "",
                    rx.text(
                        ChatState.usage_summary,
                        size="1",
                        color_scheme="gray",
                        id="usage",
                        class_name="usage",
                        custom_attrs={"aria-label": "Your usage"},
                    ),
                ),
                class_name="chat",
            ),
            class_name="layout",
        ),
        class_name="app",
    )
