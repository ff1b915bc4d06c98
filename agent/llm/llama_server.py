"""llama-cpp-python's OpenAI-compatible server, started so that it does not crash here.

``python -m zoomqa.agent.llm.llama_server --model FILE.gguf --host 127.0.0.1 --port 8080`` takes
the same arguments as ``python -m llama_cpp.server``; the only difference is that weight
repacking is off (see :func:`~zoomqa.agent.llm.llama_cpp_chat.disable_weight_repacking`), without
which the server dies with a segmentation fault at its first completion on some CPUs.
Point the openai writer at it with ``OPENAI_BASE_URL=http://127.0.0.1:8080/v1``.
"""

from __future__ import annotations

from zoomqa.agent.llm.llama_cpp_chat import disable_weight_repacking


def main() -> None:
    disable_weight_repacking()
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
