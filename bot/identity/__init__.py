"""Who the customer in a conversation is, and how sure we are (issue: verified identity).

A conversation's customer is *verified* (the website's signed customer token, a Slack user
mapped to the customer, or a check passed in this chat), *claimed* (an email or order number
typed, not verified) or *unknown*. What each level may see and do is data
(``bot/config/access.yml``); personal details and every change need *verified*.
"""
