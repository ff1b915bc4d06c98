"""Prompt templates as plain text files, loaded by name."""
