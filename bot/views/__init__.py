"""What the chat shows: message texts, keyboards and callback data.

The handlers render their answers with these, and so do the senders that work in the
background (the broadcaster, the quiz clock, scheduled jobs), which is why they live in
``bot`` and not in ``handlers``: ``bot`` never imports the handlers except to wire them.
"""
