"""Chat-model back-ends behind LangChain's interface: any OpenAI-compatible server, or a GGUF
model run in-process by llama-cpp-python (and its server, started safely)."""
