"""Tool-call arguments: plausible JSON per argument name, and small variations of them."""

from __future__ import annotations

import random

WORDS = [
    "invoice",
    "refund",
    "latency",
    "outage",
    "contract",
    "renewal",
    "pricing",
    "onboarding",
    "export",
    "api",
    "quota",
    "billing",
    "migration",
    "password",
    "webhook",
    "deploy",
    "rollback",
    "schema",
    "index",
    "cache",
    "region",
    "discount",
    "shipping",
    "warranty",
    "login",
    "report",
    "churn",
    "forecast",
    "budget",
    "compliance",
    "gdpr",
    "audit",
    "vendor",
    "roadmap",
    "incident",
    "backlog",
    "release",
    "sprint",
    "customer",
    "partner",
]
DOMAINS = ["docs.example.com", "status.example.org", "kb.acme.io", "news.example.net"]


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def _value(rng: random.Random, key: str) -> object:
    match key:
        case "query" | "text" | "title" | "subject":
            return _words(rng, 2, 6)
        case "max_results" | "top_k":
            return rng.choice((3, 5, 8, 10))
        case "url":
            return f"https://{rng.choice(DOMAINS)}/{rng.choice(WORDS)}/{rng.randint(1, 9999)}"
        case "namespace":
            return rng.choice(("products", "policies", "tickets", "handbook"))
        case "sql":
            a, b = rng.choice(WORDS), rng.choice(WORDS)
            return f"select {a}, count(*) from {b} where day >= '2026-10-{rng.randint(1, 28):02d}' group by 1"
        case "account_id":
            return f"acc_{rng.randint(1, 999999):06d}"
        case "priority":
            return rng.choice(("p1", "p2", "p3", "p4"))
        case "ticket_id":
            return f"TCK-{rng.randint(1000, 99999)}"
        case "status":
            return rng.choice(("open", "pending", "solved"))
        case "to":
            return f"{rng.choice(WORDS)}.{rng.randint(1, 999)}@example.com"
        case "user_id":
            return f"usr-{rng.getrandbits(40):010x}"
        case "date":
            return f"2026-11-{rng.randint(1, 30):02d}"
        case "code":
            return f"df.groupby('{rng.choice(WORDS)}')['{rng.choice(WORDS)}'].sum()"
        case "path":
            return f"/workspace/{rng.choice(WORDS)}/{rng.choice(WORDS)}.py"
        case "repo":
            return f"acme/{rng.choice(WORDS)}-service"
        case "ref":
            return f"{rng.getrandbits(28):07x}"
        case "order_id":
            return f"ORD-{rng.randint(100000, 999999)}"
        case "amount":
            return round(rng.uniform(5, 400), 2)
        case "target_lang":
            return rng.choice(("de", "fr", "es", "ja", "pt"))
        case "expression":
            return f"{rng.randint(2, 999)} * {rng.uniform(0.01, 1.5):.3f}"
        case "city":
            return rng.choice(("Berlin", "Lisbon", "Austin", "Osaka", "Nairobi"))
        case "article_id":
            return f"KB{rng.randint(1000, 9999)}"
    return _words(rng, 1, 3)


def draw_arguments(rng: random.Random, keys: tuple[str, ...]) -> dict:
    """Fresh arguments for one call."""
    return {k: _value(rng, k) for k in keys}


def vary_arguments(rng: random.Random, args: dict) -> dict:
    """The same call with a minor change, as a looping agent rephrases its query."""
    changed = dict(args)
    key = rng.choice(sorted(changed))
    value = changed[key]
    if isinstance(value, str):
        changed[key] = f"{value} {rng.choice(WORDS)}"
    elif isinstance(value, int | float):
        changed[key] = value + 1
    return changed
