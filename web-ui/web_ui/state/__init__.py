"""The app's state, one module per concern:

- `auth`: the sign-in forms, sign-out and the user's tokens (AuthState);
- `cognito_forms`: what the sign-in and security pages share (busy, notice, a refusal shown
  on its field);
- `account`: deleting the account (AccountState);
- `security`: two-step sign-in enrolment (SecurityState);
- `history`: the conversation list (HistoryState);
- `conversation_tools`: search, rename and the downloads (ConversationToolsState);
- `chat`: the open conversation, streaming, limits and feedback (ChatState), with `turns`:
  regenerating or editing the last turn;
- `api`: chat API calls with the user's token, shared by history and chat;
- `models`: the message and conversation shapes; `services`: the clients and routes.
"""

from .account import AccountState
from .auth import AuthState
from .chat import ChatState
from .conversation_tools import ConversationToolsState, SearchResult
from .history import HistoryState
from .models import ChatMessage, ConversationItem
from .security import SecurityState
from .services import SessionExpired, check_settings

__all__ = [
    "AccountState",
    "AuthState",
    "ChatMessage",
    "ChatState",
    "ConversationItem",
    "ConversationToolsState",
    "HistoryState",
    "SearchResult",
    "SecurityState",
    "SessionExpired",
    "check_settings",
]
