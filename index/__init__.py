"""Records to a searchable index; answers "what is relevant?". Knows nothing of LLMs or agents."""
