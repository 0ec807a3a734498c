"""What the customer is told when a person joins, leaves or passes their conversation on.

In the assistant's voice (the agent's own words carry their name). Apart from the desk's
workings so the wording can be read and changed in one place.
"""

JOINED = (
    "{agent} from our support team has joined the chat. They can see our conversation so "
    "far, so there's no need to repeat anything."
)
HANDED_BACK = "{agent} has handed you back to me, the assistant. What else can I do for you?"
TRANSFERRED = (
    "{agent} has passed this to {team}, with everything you've told us. They will get back "
    "to you {channel} {promise}. Your reference is {reference}. I'm here if you need "
    "anything else meanwhile."
)
RESOLVED = (
    "{agent} has marked this as resolved. Thank you for your patience! I'm here if you need "
    "anything else."
)
ABANDONED = (
    "Sorry, {agent} has been disconnected. I'm back with you for now, and the next free "
    "person from our support team will pick up your conversation here."
)
