"""The deterministic emotion-aware responder."""

import pytest

from local_stack import responder

MESSAGE = "I finally finished the marathon I trained a whole year for"


def system_for(emotion: str, trajectory: list[str] | None = None) -> list[dict]:
    lines = [
        "You are a supportive assistant.",
        f"Detected emotion of the user's latest message: {emotion}",
    ]
    if trajectory is not None:
        lines.append(f"Recent emotional trajectory: {', '.join(trajectory)} (oldest first)")
    return [{"text": "\n".join(lines)}]


def user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


def reply_text(emotion: str, text: str = MESSAGE, trajectory: list[str] | None = None) -> str:
    return responder.generate(system_for(emotion, trajectory), [user(text)], None).text


@pytest.mark.parametrize("emotion", responder.EMOTIONS)
def test_detects_each_label_from_the_system_prompt(emotion):
    assert responder.detect_emotion(system_for(emotion)[0]["text"]) == emotion


def test_detection_ignores_case_and_defaults_to_neutral():
    line = "Detected emotion of the user's latest message: "
    assert responder.detect_emotion(line + "FEAR") == "fear"
    assert responder.detect_emotion(line.replace("'", "’") + "joy") == "joy"
    assert responder.detect_emotion(line + "bored") == "neutral"
    assert responder.detect_emotion("no emotion line here") == "neutral"


def test_each_emotion_answers_differently():
    replies = {emotion: reply_text(emotion) for emotion in responder.EMOTIONS}
    assert len(set(replies.values())) == len(responder.EMOTIONS)


@pytest.mark.parametrize(
    ("emotion", "marker"),
    [
        ("sadness", "no rush"),
        ("anger", "frustrat"),
        ("fear", "breath"),
        ("joy", "!"),
        ("disgust", "put off"),
        ("surprise", "?"),
    ],
)
def test_tone_markers(emotion, marker):
    texts = [reply_text(emotion, f"{MESSAGE} {n}") for n in range(8)]
    assert any(marker in text for text in texts)


def test_same_input_gives_the_same_reply():
    assert reply_text("joy") == reply_text("joy")


def test_reply_quotes_the_latest_user_message_and_differs_per_message():
    first = reply_text("neutral", "How do I bake sourdough bread at home")
    second = reply_text("neutral", "Which train goes to the airport tonight")
    assert '"How do I bake sourdough bread...' in first
    assert '"Which train goes to the airport...' in second
    assert first != second


def test_reply_uses_the_latest_user_message_of_a_conversation():
    messages = [
        user("first question about gardening"),
        {"role": "assistant", "content": [{"text": "an answer"}]},
        user("second question about cooking"),
    ]
    text = responder.generate(system_for("neutral"), messages, None).text
    assert "second question about cooking" in text
    assert "gardening" not in text


@pytest.mark.parametrize("emotion", responder.EMOTIONS)
def test_reply_length_is_a_few_sentences(emotion):
    for n in range(4):
        words = len(reply_text(emotion, f"{MESSAGE} {n}").split())
        assert 40 <= words <= 80


def test_growing_distress_is_noticed_only_after_a_streak():
    note = "last few messages"
    assert note in reply_text("sadness", trajectory=["fear", "anger", "sadness"])
    assert note not in reply_text("sadness", trajectory=["joy", "anger", "sadness"])
    assert note not in reply_text("sadness", trajectory=["anger", "sadness"])
    assert note not in reply_text("joy", trajectory=["fear", "anger", "sadness"])
    assert note not in reply_text("sadness")


def test_a_message_mentioning_markdown_gets_a_markdown_passage():
    text = reply_text("neutral", "Can you answer in Markdown please")
    assert text.endswith(
        "\n\nHere it is in **Markdown**:\n\n- a list item with `inline code`\n- a second item\n"
    )
    assert text == reply_text("neutral", "Can you answer in Markdown please")
    # The streamed chunks keep the newlines that make the list a list.
    composed = responder.compose_text(system_for("neutral")[0]["text"], "show me MARKDOWN")
    assert "\n- a second item" in composed
    assert "".join(responder.split_chunks(composed)) == composed
    assert "**" not in reply_text("neutral") and "`" not in reply_text("neutral")


def test_trajectory_parsing():
    text = "Recent emotional trajectory: joy, Anger , bogus, fear (oldest first)\nnext line"
    assert responder.emotional_trajectory(text) == ["joy", "anger", "fear"]
    assert responder.emotional_trajectory("nothing") == []


def test_chunks_are_words_with_trailing_space_and_join_back():
    reply = responder.generate(system_for("fear"), [user(MESSAGE)], None)
    assert len(reply.chunks) > 1
    assert all(chunk.strip() and " " not in chunk.strip() for chunk in reply.chunks)
    assert all(chunk.endswith(" ") for chunk in reply.chunks[:-1])
    assert "".join(reply.chunks) == reply.text
    assert reply.stop_reason == "end_turn"
    assert reply.output_tokens == len(reply.text.split())


def test_max_tokens_caps_the_chunks():
    full = responder.generate(system_for("joy"), [user(MESSAGE)], None)
    capped = responder.generate(system_for("joy"), [user(MESSAGE)], 5)
    assert capped.chunks == full.chunks[:5]
    assert capped.stop_reason == "max_tokens"
    exact = responder.generate(system_for("joy"), [user(MESSAGE)], len(full.chunks))
    assert exact.stop_reason == "end_turn"


def test_input_tokens_count_system_and_message_words():
    system = [{"text": "one two three"}]
    reply = responder.generate(system, [user("four five")], None)
    assert reply.input_tokens == 5
