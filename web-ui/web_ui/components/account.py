"""The account section of the security page: download all of one's data, or delete the
account behind a confirmation that names what goes with it."""

from __future__ import annotations

import reflex as rx

from ..state import AccountState, ConversationToolsState
from ..state.account import DELETED_ITEMS
from .controls import alert_text, callout_when


def delete_confirmation() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button(
                "Delete my account",
                variant="soft",
                color_scheme="red",
                disabled=AccountState.deleting,
                id="delete-account",
            ),
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete your account?"),
            rx.alert_dialog.description(
                "This deletes, for good and at once:", size="2", id="delete-account-what"
            ),
            rx.el.ul(*[rx.el.li(item) for item in DELETED_ITEMS], class_name="deleted-items"),
            rx.text(
                "It cannot be undone. Download your data first if you want to keep it.", size="2"
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        "Delete my account and my data",
                        color_scheme="red",
                        on_click=AccountState.delete_account,
                    ),
                ),
                spacing="3",
                justify="end",
                margin_top="1rem",
            ),
        ),
    )


def account_section() -> rx.Component:
    return rx.vstack(
        rx.heading("Your data", size="4", as_="h2"),
        rx.text(
            "Everything stored about you, as one JSON file: your conversations with their "
            "emotions and ratings, your profile and settings.",
            size="2",
        ),
        rx.button(
            rx.icon("download", size=14),
            "Download all my data",
            variant="soft",
            on_click=ConversationToolsState.export_account,
            id="download-my-data",
        ),
        alert_text(ConversationToolsState.export_error),
        rx.heading("Delete your account", size="4", as_="h2"),
        delete_confirmation(),
        rx.cond(AccountState.deleting, rx.text("Deleting your account…", size="2", role="status")),
        callout_when(
            AccountState.delete_error, icon="triangle_alert", color_scheme="red", role="alert"
        ),
        spacing="3",
        width="100%",
        id="account",
    )
