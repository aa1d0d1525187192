"""The chatbot's web app (Reflex): sign-up and sign-in with Cognito, streamed chat, history."""
