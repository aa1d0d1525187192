"""The pages, one module per area: sign-in and account forms, security, chat."""
