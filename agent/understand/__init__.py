"""Reading a question: its intent, the person's situation, the works it names, and the scales
and pixel sizes people write. Deterministic and model-free, so every writer acts on the same
reading."""
