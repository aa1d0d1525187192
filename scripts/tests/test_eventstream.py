"""The event-stream encoder, checked against botocore's own decoder and the CRC32 definition."""

import json
import struct
import zlib

import botocore.session
import pytest
from botocore.eventstream import ChecksumMismatch, EventStream, EventStreamBuffer
from botocore.exceptions import EventStreamError
from botocore.parsers import EventStreamJSONParser

from local_stack import eventstream


def decode_all(data: bytes, piece: int | None = None) -> list:
    """Decode frames with botocore, feeding `piece` bytes at a time (all at once if None)."""
    buffer = EventStreamBuffer()
    messages = []
    step = piece or len(data)
    for offset in range(0, len(data), step):
        buffer.add_data(data[offset : offset + step])
        messages.extend(buffer)
    return messages


class RawStream:
    """The part of urllib3's response that botocore's EventStream reads."""

    def __init__(self, data: bytes):
        self._data = data

    def stream(self):
        yield from (self._data[i : i + 7] for i in range(0, len(self._data), 7))

    def close(self):
        pass


def converse_stream_events(data: bytes) -> EventStream:
    """Parse bytes exactly as boto3 parses a ConverseStream response body."""
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    stream_shape = model.operation_model("ConverseStream").output_shape.members["stream"]
    return EventStream(RawStream(data), stream_shape, EventStreamJSONParser(), "ConverseStream")


def test_event_frame_decodes_with_botocore():
    frame = eventstream.event_frame(
        "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "héllo "}}
    )
    [message] = decode_all(frame)
    assert message.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message.payload) == {"contentBlockIndex": 0, "delta": {"text": "héllo "}}
    assert message.prelude.total_length == len(frame)


def test_prelude_and_message_crcs_are_crc32_of_the_right_bytes():
    frame = eventstream.event_frame("messageStart", {"role": "assistant"})
    total, headers_length, prelude_crc = struct.unpack(">III", frame[:12])
    assert total == len(frame)
    assert prelude_crc == zlib.crc32(frame[:8])
    assert struct.unpack(">I", frame[-4:])[0] == zlib.crc32(frame[:-4])
    payload = frame[12 + headers_length : -4]
    assert json.loads(payload) == {"role": "assistant"}


def test_frames_split_at_any_byte_decode_in_order():
    frames = [
        eventstream.event_frame("messageStart", {"role": "assistant"}),
        eventstream.event_frame(
            "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "a"}}
        ),
        eventstream.event_frame("messageStop", {"stopReason": "end_turn"}),
    ]
    data = b"".join(frames)
    for piece in (1, 5, 13, len(data)):
        types = [m.headers[":event-type"] for m in decode_all(data, piece)]
        assert types == ["messageStart", "contentBlockDelta", "messageStop"]


def test_a_flipped_payload_byte_fails_the_message_crc():
    frame = bytearray(eventstream.event_frame("messageStart", {"role": "assistant"}))
    frame[-6] ^= 0x01
    with pytest.raises(ChecksumMismatch):
        decode_all(bytes(frame))


def test_a_flipped_length_byte_fails_the_prelude_crc():
    frame = bytearray(eventstream.event_frame("messageStart", {"role": "assistant"}))
    frame[7] ^= 0x01
    with pytest.raises(ChecksumMismatch):
        decode_all(bytes(frame))


def test_exception_frame_headers_and_payload():
    frame = eventstream.exception_frame("throttlingException", "slow down", extra=1)
    [message] = decode_all(frame)
    assert message.headers == {
        ":exception-type": "throttlingException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    assert json.loads(message.payload) == {"message": "slow down", "extra": 1}


def test_botocore_parses_a_converse_stream_and_raises_the_exception_frame():
    data = (
        eventstream.event_frame("messageStart", {"role": "assistant"})
        + eventstream.event_frame(
            "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi "}}
        )
        + eventstream.exception_frame("modelStreamErrorException", "stream broke")
    )
    events = []
    with pytest.raises(EventStreamError) as raised:
        for event in converse_stream_events(data):
            events.append(event)
    assert events == [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hi "}}},
    ]
    assert raised.value.response["Error"] == {
        "Code": "modelStreamErrorException",
        "Message": "stream broke",
    }


def test_invalid_headers_are_refused():
    with pytest.raises(ValueError):
        eventstream.encode_headers({"x" * 256: "v"})
    with pytest.raises(ValueError):
        eventstream.encode_headers({"": "v"})
    with pytest.raises(ValueError):
        eventstream.encode_headers({"name": "v" * 70_000})


def test_oversized_payload_is_refused():
    with pytest.raises(ValueError):
        eventstream.encode_message({}, b"x" * (eventstream.MAX_PAYLOAD_LENGTH + 1))
