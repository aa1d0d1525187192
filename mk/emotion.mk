# The emotion model and the self-harm risk classifier: training (maintainers; the emotion model
# needs ../shared/datasets, the risk classifier the repository and, when present, GoEmotions
# train comments from it as ordinary messages), scores, cost and tests.
EMOTION_TRAIN_VENV := .venvs/emotion-train
EMOTION_TRAIN_STAMP := $(EMOTION_TRAIN_VENV)/.installed
EMOTION_TRAIN_REQUIREMENTS := scripts/models/requirements.txt
EMOTION_TESTS := chat-api/tests/test_emotion.py chat-api/tests/test_emotion_model.py \
	chat-api/tests/test_safety.py chat-api/tests/test_risk_detector.py \
	chat-api/tests/test_prompts.py \
	chat-api/tests/test_guardrail.py scripts/tests/test_bedrock_server_guardrail.py

.PHONY: train-emotion emotion-eval bench-emotion test-emotion train-risk risk-eval

$(EMOTION_TRAIN_STAMP): $(EMOTION_TRAIN_REQUIREMENTS) $(COMMON)
	$(call make-venv,$(EMOTION_TRAIN_VENV))
	$(EMOTION_TRAIN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(EMOTION_TRAIN_REQUIREMENTS)
	$(call install-common,$(EMOTION_TRAIN_VENV)/bin/python)
	@touch $@

train-emotion: $(EMOTION_TRAIN_STAMP) ## Rebuild the emotion model artifact from ../shared/datasets (fixed seed)
	$(EMOTION_TRAIN_VENV)/bin/python scripts/models/emotion_train.py

emotion-eval: $(STAMP) ## Dev-split macro-F1 and per-label F1 next to the cross-validated ones, and the confusion
	@$(PY) scripts/models/emotion_eval.py

train-risk: $(EMOTION_TRAIN_STAMP) ## Rebuild the self-harm risk classifier from scripts/models/risk_corpus.tsv
	$(EMOTION_TRAIN_VENV)/bin/python scripts/models/risk_train.py

risk-eval: $(STAMP) ## Risk detector: recall and false alarms held apart, flags on ordinary messages
	@$(PY) scripts/models/risk_eval.py

bench-emotion: $(STAMP) ## Emotion model (and with the risk check) cost: load time, added memory, latency, lines/s
	$(PY) scripts/models/emotion_bench.py

test-emotion: $(STAMP) ## Emotion model, safety, tone-guidance and guardrail tests (part of test-python)
	$(PY) -m pytest $(EMOTION_TESTS)
