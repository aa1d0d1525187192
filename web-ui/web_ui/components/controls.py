"""Small controls that the chat page's parts share, so that an error line, a Cancel button
or an icon-only button looks and reads out the same wherever it stands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

# A field inside an element with this attribute is cancelled by Esc, which presses the
# element's button marked `data-cancel` (components/browser.js).
ESCAPE_CANCELS = {"data-escape-cancels": "true"}


def alert_text(message: rx.Var[str], size: str = "2", **props) -> rx.Component:
    """An error as a line of text, present only while there is one (`role=alert`, so a screen
    reader says it when it appears)."""
    return rx.cond(
        message != "",
        rx.text(message, role="alert", color_scheme="red", size=size, **props),
    )


def callout_when(
    message: rx.Var[str], *, icon: str, color_scheme: str, role: str, **props
) -> rx.Component:
    """A callout of `message`, present only while it is not empty."""
    return rx.cond(
        message != "",
        rx.callout(message, icon=icon, color_scheme=color_scheme, role=role, **props),
    )


def cancel_button(on_click: rx.EventHandler, *, pressed_by_escape: bool = False) -> rx.Component:
    """The small grey Cancel of an inline form. `pressed_by_escape`: Esc in an `inline_form`
    presses it."""
    extra = {"custom_attrs": {"data-cancel": "true"}} if pressed_by_escape else {}
    return rx.button(
        "Cancel",
        type="button",
        size="1",
        variant="soft",
        color_scheme="gray",
        on_click=on_click,
        **extra,
    )


def icon_action(
    icon: str | rx.Component,
    label: rx.Var[str] | str,
    on_click,
    *,
    color_scheme: str = "gray",
    size: str = "1",
    **props,
) -> rx.Component:
    """An icon-only button (`icon`: a Lucide name, or the icon itself); `label` is what a
    screen reader announces for it."""
    return rx.icon_button(
        rx.icon(icon, size=14) if isinstance(icon, str) else icon,
        variant="ghost",
        color_scheme=color_scheme,
        size=size,
        type="button",
        on_click=on_click,
        custom_attrs={"aria-label": label},
        **props,
    )


def inline_field(
    control: Callable[..., rx.Component],
    label: str,
    field_id: str,
    name: str,
    value: rx.Var[str],
    **options: Any,
) -> rx.Component:
    """The field of an inline form (`control`: rx.input or rx.text_area), holding the current
    `value` and focused; its label is for screen readers, as the form stands where the value
    was shown."""
    return rx.fragment(
        rx.el.label(label, html_for=field_id, class_name="visually-hidden"),
        control(
            id=field_id, name=name, default_value=value, auto_focus=True, width="100%", **options
        ),
    )


def inline_form(
    *parts: rx.Component, on_submit: rx.EventHandler, class_name: str, spacing: str
) -> rx.Component:
    """A small form shown in place of what it edits (a title, a message); Esc in it presses
    its Cancel."""
    return rx.form(
        rx.vstack(*parts, spacing=spacing, width="100%"),
        on_submit=on_submit,
        width="100%",
        class_name=class_name,
        custom_attrs=ESCAPE_CANCELS,
    )
