"""The app's state, one module per concern:

- `auth`: the sign-in forms, sign-out and the user's tokens (AuthState);
- `security`: two-step sign-in enrolment (SecurityState);
- `history`: the conversation list (HistoryState);
- `chat`: the open conversation, streaming, limits and feedback (ChatState);
- `api`: chat API calls with the user's token, shared by history and chat;
- `models`: the message and conversation shapes; `services`: the clients and routes.
"""

from .auth import AuthState
from .chat import ChatState
from .history import HistoryState
from .models import ChatMessage, ConversationItem
from .security import SecurityState
from .services import SessionExpired, check_settings

__all__ = [
    "AuthState",
    "ChatMessage",
    "ChatState",
    "ConversationItem",
    "HistoryState",
    "SecurityState",
    "SessionExpired",
    "check_settings",
]
