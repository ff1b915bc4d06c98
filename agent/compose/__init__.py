"""From a search result to a grounded three-part answer: the answer types, the evidence
(numbered sources cut into embedded sentences), which work to explain (the anchor), the
writers (extractive, or a chat model), the grounding guard, and the pipeline that refuses,
writes, guards and falls back."""
