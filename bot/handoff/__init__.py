"""The security check handed to a person: the box as a picture, their clicks and drags relayed
to the real page, the instruction in English and Chinese (:class:`CheckHandoff`), served on a
small web page with an unguessable link (:class:`HandoffServer`) by one relay (:class:`Relay`)
for the command line and the service alike. icpbot never solves the check.
"""

from bot.handoff.check import CheckForm, CheckHandoff, HandoffClosed, HandoffState, Instruction
from bot.handoff.relay import Relay, RelayedCheck, WebRelay
from bot.handoff.server import HandoffServer

__all__ = [
    "CheckForm",
    "CheckHandoff",
    "HandoffClosed",
    "HandoffServer",
    "HandoffState",
    "Instruction",
    "Relay",
    "RelayedCheck",
    "WebRelay",
]
