"""Reference data the fleet is drawn from: models and their list prices, tools, names.

Prices are list prices in USD per million tokens (input, cached input, output) as
published by the providers in 2025-2026; they only feed the informational
``cost_usd_list`` column of ``runs.parquet`` (and size the cost incidents). The
warehouse prices runs with its own dated seed table; ``runs.parquet``'s ``cost_usd``
applies that table (``pricing.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Model:
    request: str  # what the client asks for (gen_ai.request.model)
    response: str  # what the provider answers with (gen_ai.response.model)
    provider: str  # OTel GenAI gen_ai.provider.name
    oi_provider: str  # OpenInference llm.provider
    legacy_system: str  # pre-1.37 gen_ai.system
    server: str  # server.address of the API
    input_price: float
    cached_price: float
    output_price: float
    tokens_per_s: float  # output speed, drives call duration
    ttft_s: float  # time to first token at a small context


# Dated response ids as the APIs return them: the request alias is not what the
# response reports, so the warehouse must price by pattern, not by exact name.
MODELS: dict[str, Model] = {
    m.request: m
    for m in [
        Model("gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai", "openai", "openai",
              "api.openai.com", 0.15, 0.075, 0.60, 85.0, 0.35),
        Model("gpt-4o", "gpt-4o-2024-08-06", "openai", "openai", "openai",
              "api.openai.com", 2.50, 1.25, 10.00, 70.0, 0.45),
        Model("gpt-4.1", "gpt-4.1-2025-04-14", "openai", "openai", "openai",
              "api.openai.com", 2.00, 0.50, 8.00, 65.0, 0.50),
        Model("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", "openai", "openai", "openai",
              "api.openai.com", 0.40, 0.10, 1.60, 90.0, 0.35),
        Model("o4-mini", "o4-mini-2025-04-16", "openai", "openai", "openai",
              "api.openai.com", 1.10, 0.275, 4.40, 110.0, 1.60),
        Model("claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "anthropic", "anthropic",
              "anthropic", "api.anthropic.com", 3.00, 0.30, 15.00, 60.0, 0.80),
        Model("claude-haiku-4-5", "claude-haiku-4-5-20251001", "anthropic", "anthropic",
              "anthropic", "api.anthropic.com", 1.00, 0.10, 5.00, 110.0, 0.45),
        Model("claude-opus-4-1", "claude-opus-4-1-20250805", "anthropic", "anthropic",
              "anthropic", "api.anthropic.com", 15.00, 1.50, 75.00, 35.0, 1.20),
        Model("gemini-2.5-flash", "gemini-2.5-flash", "gcp.gemini", "google", "gemini",
              "generativelanguage.googleapis.com", 0.30, 0.075, 2.50, 160.0, 0.40),
        Model("gemini-2.5-pro", "gemini-2.5-pro", "gcp.gemini", "google", "gemini",
              "generativelanguage.googleapis.com", 1.25, 0.31, 10.00, 80.0, 1.40),
        Model("mistral-large-latest", "mistral-large-2411", "mistral_ai", "mistralai",
              "mistral_ai", "api.mistral.ai", 2.00, 0.20, 6.00, 55.0, 0.50),
        Model("mistral-small-latest", "mistral-small-2506", "mistral_ai", "mistralai",
              "mistral_ai", "api.mistral.ai", 0.10, 0.01, 0.30, 120.0, 0.30),
        Model("llama-3.3-70b-versatile", "llama-3.3-70b-versatile", "groq", "groq", "groq",
              "api.groq.com", 0.59, 0.59, 0.79, 275.0, 0.20),
        Model("deepseek-chat", "deepseek-chat", "deepseek", "deepseek", "deepseek",
              "api.deepseek.com", 0.27, 0.07, 1.10, 45.0, 0.90),
    ]
}  # fmt: skip

# Providers whose APIs report cache-read tokens (prompt caching).
CACHING_PROVIDERS = {"openai", "anthropic", "gcp.gemini", "deepseek", "mistral_ai"}

# Strong models an agent plans with, and cheap ones it routes small jobs to.
PRIMARY_MODELS = [
    "gpt-4.1",
    "gpt-4o",
    "claude-sonnet-4-5",
    "gemini-2.5-pro",
    "mistral-large-latest",
    "deepseek-chat",
    "o4-mini",
    "gpt-4o-mini",
    "gemini-2.5-flash",
]
SECONDARY_MODELS = [
    "gpt-4o-mini",
    "gpt-4.1-mini",
    "claude-haiku-4-5",
    "gemini-2.5-flash",
    "mistral-small-latest",
    "llama-3.3-70b-versatile",
    "deepseek-chat",
]


@dataclass(frozen=True)
class ToolKind:
    name: str
    arg_keys: tuple[str, ...]  # argument names; values are drawn per call
    latency_s: float  # median duration
    output_tokens: float  # median tokens the result adds to the context
    error_rate: float  # healthy share of failing calls
    http: str | None  # host it calls over HTTP (an HTTP client child span), if any
    error_type: str  # exception type a failure raises


TOOLS: list[ToolKind] = [
    ToolKind("web_search", ("query", "max_results"), 1.1, 900, 0.020, "api.search.example.com", "HTTPStatusError"),
    ToolKind("fetch_url", ("url",), 0.9, 1600, 0.035, "fetch.proxy.internal", "HTTPStatusError"),
    ToolKind("search_docs", ("query", "top_k"), 0.35, 1200, 0.010, None, "TimeoutError"),
    ToolKind("vector_lookup", ("query", "namespace", "top_k"), 0.12, 700, 0.008, None, "ConnectionError"),
    ToolKind("sql_query", ("sql",), 0.8, 500, 0.030, None, "ProgrammingError"),
    ToolKind("crm_lookup", ("account_id",), 0.45, 350, 0.015, "crm.internal", "HTTPStatusError"),
    ToolKind("create_ticket", ("title", "priority"), 0.6, 80, 0.012, "tickets.internal", "HTTPStatusError"),
    ToolKind("update_ticket", ("ticket_id", "status"), 0.4, 60, 0.010, "tickets.internal", "HTTPStatusError"),
    ToolKind("send_email", ("to", "subject"), 0.7, 40, 0.008, "mail.internal", "SMTPException"),
    ToolKind("calendar_lookup", ("user_id", "date"), 0.3, 250, 0.010, "calendar.internal", "HTTPStatusError"),
    ToolKind("run_python", ("code",), 2.2, 400, 0.040, None, "ExecutionError"),
    ToolKind("read_file", ("path",), 0.05, 1100, 0.006, None, "FileNotFoundError"),
    ToolKind("write_file", ("path",), 0.06, 30, 0.005, None, "PermissionError"),
    ToolKind("git_diff", ("repo", "ref"), 0.4, 1400, 0.010, "git.internal", "CalledProcessError"),
    ToolKind("order_status", ("order_id",), 0.25, 200, 0.012, "orders.internal", "HTTPStatusError"),
    ToolKind("issue_refund", ("order_id", "amount"), 0.9, 60, 0.018, "payments.internal", "HTTPStatusError"),
    ToolKind("translate", ("text", "target_lang"), 0.6, 300, 0.010, "translate.internal", "HTTPStatusError"),
    ToolKind("calculator", ("expression",), 0.01, 20, 0.004, None, "ValueError"),
    ToolKind("weather", ("city",), 0.3, 120, 0.015, "api.weather.example.com", "HTTPStatusError"),
    ToolKind("kb_article", ("article_id",), 0.2, 900, 0.008, None, "KeyError"),
]  # fmt: skip
TOOL_BY_NAME = {t.name: t for t in TOOLS}

AGENT_NAMES = [
    "support_triage",
    "refund_agent",
    "research_assistant",
    "code_reviewer",
    "sales_copilot",
    "data_analyst",
    "onboarding_guide",
    "incident_responder",
    "contract_reviewer",
    "travel_planner",
    "billing_helper",
    "knowledge_bot",
]
SUB_AGENT_NAMES = ["planner", "critic", "summarizer", "router", "verifier"]
WORKFLOWS = [
    "ticket_resolution",
    "refund_request",
    "deep_research",
    "pr_review",
    "lead_qualification",
    "weekly_report",
    "account_setup",
    "on_call_page",
    "clause_extraction",
    "trip_booking",
    "invoice_question",
    "faq_answer",
    "escalation",
    "follow_up",
]
# Prompt-variant naming schemes differ between teams; a fleet mixes them.
VARIANT_SCHEMES = [
    ["v7", "v8", "v9"],
    ["2026-09-30", "2026-10-14", "2026-10-28"],
    ["prompt-a", "prompt-b", "prompt-c"],
    ["baseline", "concise", "cot"],
    ["1.4.0", "1.5.0", "1.5.1"],
]
# User cohort vocabularies, from plan tiers; one per fleet.
COHORT_SCHEMES = [
    ["free", "pro", "enterprise"],
    ["trial", "standard", "premium", "enterprise"],
    ["free", "plus", "business"],
    ["community", "team", "enterprise", "internal"],
]
# Agent frameworks emitting OTel GenAI spans: the scope of agent and tool spans.
GENAI_FRAMEWORKS = [
    ("opentelemetry.instrumentation.openai_agents", "0.3b0"),
    ("langgraph.otel", "0.6.2"),
    ("pydantic-ai", "1.0.14"),
    ("strands.telemetry.tracer", "1.9.1"),
]
# Client instrumentations emitting chat spans, by provider.
LLM_SCOPES = {
    "openai": ("opentelemetry.instrumentation.openai_v2", "2.1b0"),
    "anthropic": ("opentelemetry.instrumentation.anthropic", "0.47.3"),
    "gcp.gemini": ("opentelemetry.instrumentation.google_genai", "0.4b0"),
    "mistral_ai": ("opentelemetry.instrumentation.mistralai", "0.47.3"),
    "groq": ("opentelemetry.instrumentation.groq", "0.47.3"),
    "deepseek": ("opentelemetry.instrumentation.openai_v2", "2.1b0"),
}
OPENINFERENCE_SCOPES = [
    ("openinference.instrumentation.langchain", "0.1.52"),
    ("openinference.instrumentation.llama_index", "4.3.4"),
]
HTTP_SCOPE = ("opentelemetry.instrumentation.httpx", "0.58b0")
# OpenInference LLM span names follow the client class.
OI_LLM_NAMES = {
    "openai": "ChatOpenAI",
    "anthropic": "ChatAnthropic",
    "google": "ChatGoogleGenerativeAI",
    "mistralai": "ChatMistralAI",
    "groq": "ChatGroq",
    "deepseek": "ChatDeepSeek",
}
