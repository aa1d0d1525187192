# The emotion model: training (maintainers, needs ../shared/datasets), scores, cost and tests.
EMOTION_TRAIN_VENV := .venvs/emotion-train
EMOTION_TRAIN_STAMP := $(EMOTION_TRAIN_VENV)/.installed
EMOTION_TRAIN_REQUIREMENTS := scripts/emotion_training/requirements.txt
EMOTION_TESTS := web-service/tests/test_emotion.py web-service/tests/test_emotion_model.py \
	web-service/tests/test_safety.py web-service/tests/test_prompts.py \
	web-service/tests/test_guardrail.py scripts/tests/test_bedrock_server_guardrail.py

.PHONY: train-emotion emotion-eval bench-emotion test-emotion

$(EMOTION_TRAIN_STAMP): $(EMOTION_TRAIN_REQUIREMENTS)
	$(call make-venv,$(EMOTION_TRAIN_VENV))
	$(EMOTION_TRAIN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(EMOTION_TRAIN_REQUIREMENTS)
	@touch $@

train-emotion: $(EMOTION_TRAIN_STAMP) ## Rebuild the emotion model artifact from ../shared/datasets (fixed seed)
	$(EMOTION_TRAIN_VENV)/bin/python scripts/train_emotion.py

emotion-eval: $(STAMP) ## Dev-split macro-F1, per-label F1 and confusion of the served emotion model
	@$(PY) -m chat_api.emotion.evaluate

bench-emotion: $(STAMP) ## Emotion model cost: load time, added memory, latency, lines/s
	$(PY) scripts/bench_emotion.py

test-emotion: $(STAMP) ## Emotion model, safety, tone-guidance and guardrail tests (part of test-python)
	$(PY) -m pytest $(EMOTION_TESTS)
