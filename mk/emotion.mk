# The emotion model and the self-harm risk classifier: training (maintainers; the emotion model
# needs ../shared/datasets, the risk classifier only the repository), scores, cost and tests.
EMOTION_TRAIN_VENV := .venvs/emotion-train
EMOTION_TRAIN_STAMP := $(EMOTION_TRAIN_VENV)/.installed
EMOTION_TRAIN_REQUIREMENTS := scripts/emotion_training/requirements.txt
EMOTION_TESTS := web-service/tests/test_emotion.py web-service/tests/test_emotion_model.py \
	web-service/tests/test_safety.py web-service/tests/test_risk_detector.py \
	web-service/tests/test_prompts.py \
	web-service/tests/test_guardrail.py scripts/tests/test_bedrock_server_guardrail.py

.PHONY: train-emotion emotion-eval bench-emotion test-emotion train-risk risk-eval

$(EMOTION_TRAIN_STAMP): $(EMOTION_TRAIN_REQUIREMENTS) $(COMMON)
	$(call make-venv,$(EMOTION_TRAIN_VENV))
	$(EMOTION_TRAIN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(EMOTION_TRAIN_REQUIREMENTS)
	$(call install-common,$(EMOTION_TRAIN_VENV)/bin/python)
	@touch $@

train-emotion: $(EMOTION_TRAIN_STAMP) ## Rebuild the emotion model artifact from ../shared/datasets (fixed seed)
	$(EMOTION_TRAIN_VENV)/bin/python scripts/train_emotion.py

emotion-eval: $(STAMP) ## Dev-split macro-F1 and per-label F1 next to the cross-validated ones, and the confusion
	@$(PY) -m chat_api.emotion.evaluate

train-risk: $(EMOTION_TRAIN_STAMP) ## Rebuild the self-harm risk classifier from scripts/risk_training/corpus.tsv
	$(EMOTION_TRAIN_VENV)/bin/python scripts/train_risk.py

risk-eval: $(STAMP) ## Recall and false alarms of the risk detector on its held-apart sentences
	@$(PY) scripts/evaluate_risk.py

bench-emotion: $(STAMP) ## Emotion model (and with the risk check) cost: load time, added memory, latency, lines/s
	$(PY) scripts/bench_emotion.py

test-emotion: $(STAMP) ## Emotion model, safety, tone-guidance and guardrail tests (part of test-python)
	$(PY) -m pytest $(EMOTION_TESTS)
