"""Composes retrieval, answer writers and tools into answers; the chat, Slack and FAQ front doors."""
