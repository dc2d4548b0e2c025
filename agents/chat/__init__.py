"""The design chat: free-text requests read by rules, answered with tool-checked candidates (see session.py)."""
