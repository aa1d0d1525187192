"""Encoder for the AWS event-stream binary framing (``application/vnd.amazon.eventstream``).

Bedrock Runtime's ConverseStream answers with a sequence of these frames. Each frame is::

    prelude   total length (uint32) | headers length (uint32) | CRC32 of those 8 bytes
    headers   repeated: name length (uint8) | name | type (uint8, 7 = string)
              | value length (uint16) | value
    payload   JSON bytes
    trailer   CRC32 of everything before it

All integers are big-endian. Only string headers are needed for Bedrock, so only those are
encoded. Decoding is left to the clients (botocore's ``EventStreamBuffer``).
"""

import json
import struct
import zlib

CONTENT_TYPE = "application/vnd.amazon.eventstream"

_STRING_HEADER_TYPE = 7
_PRELUDE_LENGTH = 12
_TRAILER_LENGTH = 4
# Limits enforced by the AWS decoders (botocore refuses larger frames).
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 16 * 1024 * 1024


def _crc32(data: bytes, crc: int = 0) -> int:
    return zlib.crc32(data, crc) & 0xFFFFFFFF


def encode_headers(headers: dict[str, str]) -> bytes:
    """Encode string headers in insertion order."""
    parts = []
    for name, value in headers.items():
        name_bytes = name.encode("utf-8")
        value_bytes = value.encode("utf-8")
        if not 0 < len(name_bytes) <= 255:
            raise ValueError(f"header name must be 1-255 bytes: {name!r}")
        if len(value_bytes) > 0xFFFF:
            raise ValueError(f"header value of {name!r} is longer than 65535 bytes")
        parts.append(struct.pack(">B", len(name_bytes)))
        parts.append(name_bytes)
        parts.append(struct.pack(">BH", _STRING_HEADER_TYPE, len(value_bytes)))
        parts.append(value_bytes)
    return b"".join(parts)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """Encode one complete frame: prelude, headers, payload and message CRC."""
    header_bytes = encode_headers(headers)
    if len(header_bytes) > MAX_HEADERS_LENGTH:
        raise ValueError(f"headers exceed {MAX_HEADERS_LENGTH} bytes")
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise ValueError(f"payload exceeds {MAX_PAYLOAD_LENGTH} bytes")
    total_length = _PRELUDE_LENGTH + len(header_bytes) + len(payload) + _TRAILER_LENGTH
    lengths = struct.pack(">II", total_length, len(header_bytes))
    prelude = lengths + struct.pack(">I", _crc32(lengths))
    body = prelude + header_bytes + payload
    return body + struct.pack(">I", _crc32(body))


def _json_bytes(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_frame(event_type: str, document: dict) -> bytes:
    """A ``:message-type event`` frame such as ``contentBlockDelta`` with a JSON payload."""
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_message(headers, _json_bytes(document))


def exception_frame(exception_type: str, message: str, **fields) -> bytes:
    """A ``:message-type exception`` frame; boto3 raises it as ``EventStreamError``.

    ``exception_type`` is the member name in the stream union, in lower camel case
    (``throttlingException``, ``modelStreamErrorException``, ``internalServerException``...).
    """
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, _json_bytes({"message": message, **fields}))
