"""The LIIF upscaler: model, inference, training, evaluation. Knows nothing of retrieval."""
