"""A QR code drawn in the browser."""

from __future__ import annotations

import reflex as rx


class QrCode(rx.Component):
    """A QR code drawn in the browser as inline SVG (qrcode.react): the key never leaves the
    page for an image service."""

    library = "qrcode.react@4.2.0"
    tag = "QRCodeSVG"

    value: rx.Var[str]
    size: rx.Var[int]
    title: rx.Var[str]


qr_code = QrCode.create
