"""One agent run, step by step: LLM turns that call tools, growing context, prompt
caching, tool errors and retries, HTTP calls under tools, sub-agents, ordinary
failures, and the incident behaviours (silent loops, stuck loops, drifted tool mix).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from fleetsignals.generate import vocab
from fleetsignals.generate.catalog import (
    CACHING_PROVIDERS,
    HTTP_SCOPE,
    LLM_SCOPES,
    MODELS,
    TOOL_BY_NAME,
)
from fleetsignals.generate.otlp import STATUS_ERROR, STATUS_OK, exception_event, span_json
from fleetsignals.generate.pricing import call_cost
from fleetsignals.generate.shape import Agent
from fleetsignals.generate.toolargs import draw_arguments, vary_arguments

NS = 1_000_000_000
LLM_ERRORS = ("RateLimitError", "APIConnectionError", "InternalServerError")


@dataclass(slots=True)
class SpanRec:
    """One span as written, plus what the ground truth needs without re-parsing it."""

    run: int
    resource: int
    scope: tuple[str, str]
    start_ns: int
    end_ns: int
    op: str  # agent | llm | tool | other
    is_root: bool
    error: bool
    input_tokens: int
    output_tokens: int
    cache_read: int
    cost: float  # at the catalog's list prices (runs.parquet cost_usd_list)
    model: str | None
    tool: str | None
    dims: dict[str, str]
    json: dict
    priced_cost: float | None = 0.0  # as the warehouse prices it; None: no price row


@dataclass(slots=True)
class RunPlan:
    """Who runs what, when; plus the incident behaviour injected into this run."""

    key: int  # stable seed key: a run's randomness never depends on other runs
    start_ns: int
    agent: int
    variant: int
    resource: int
    dims: vocab.RunDims
    incident: str | None = None
    tool_fail: tuple[str, float] | None = None  # tool, error rate
    cost_factor: float = 1.0
    loop_steps: int = 0  # extra looping rounds (silent loop)
    stuck: tuple[str, int, bool] | None = None  # tool, repeats, hangs without ending
    drift: tuple[str, str, float] | None = None  # from tool, to tool, share moved
    output_factor: float = 1.0  # drift: shorter (or longer) answers
    rounds_factor: float = 1.0  # drift: more (or fewer) tool rounds
    effect_end_ns: int = 0  # when a stuck loop stopped
    run_id: str = ""
    spans: list[SpanRec] = field(default_factory=list)


class RunSimulator:
    """Builds the spans of one run; times are integer unix nanoseconds."""

    def __init__(self, plan: RunPlan, index: int, agent: Agent, seed: int, cohort_ctx: float):
        self.plan = plan
        self.index = index
        self.agent = agent
        self.variant = agent.variants[plan.variant]
        self.rng = random.Random((seed << 40) ^ plan.key)
        self.cohort_ctx = cohort_ctx  # context size factor of the user's cohort
        self.ctx = 0.0  # tokens in the conversation so far
        self.t = plan.start_ns
        self.spans: list[SpanRec] = []
        self.totals = [0, 0]  # input, output tokens over LLM calls
        tools = agent.tools
        acc, self.cum = 0.0, []
        for p in self.variant.tool_mix:
            acc += float(p)
            self.cum.append(acc)
        self.tool_names = [t.name for t in tools]

    # -- helpers -------------------------------------------------------------
    def _id(self, bits: int = 64) -> str:
        return f"{self.rng.getrandbits(bits) or 1:0{bits // 4}x}"

    def _dur(self, median_s: float, sigma: float) -> int:
        return int(self.rng.lognormvariate(math.log(median_s), sigma) * NS)

    def _gap(self) -> None:
        self.t += int(self.rng.uniform(0.005, 0.08) * NS)

    def _emit(self, op, parent, span_id, name, kind, attrs, start, end, status, message, dims,
              scope, *, error=False, tokens=(0, 0, 0), cost=0.0, model=None, tool=None,
              events=None, priced_cost=0.0):  # fmt: skip
        js = span_json(
            trace_id=self.plan.run_id, span_id=span_id, parent_id=parent, name=name, kind=kind,
            start_ns=start, end_ns=end, attributes=attrs, status=status, message=message,
            events=events,
        )  # fmt: skip
        self.spans.append(
            SpanRec(self.index, self.plan.resource, scope, start, end, op, parent is None, error,
                    tokens[0], tokens[1], tokens[2], cost, model, tool, dims, js, priced_cost)
        )  # fmt: skip

    # -- steps ---------------------------------------------------------------
    def llm(self, parent: str, model_name: str, finish: str, out_median: float) -> bool:
        """One chat call (and the SDK's retries); False if it finally failed."""
        m = MODELS[model_name]
        rng = self.rng
        for _attempt in range(3):
            self._gap()
            span_id = self._id()
            ok = rng.random() > 0.004 or bool(self.plan.loop_steps or self.plan.stuck)
            start = self.t
            tokens_in = int(self.ctx)
            cache = 0
            if (
                self.llm_calls
                and m.provider in CACHING_PROVIDERS
                and rng.random() < self.agent.cache_p
            ):
                cache = int(self.prev_ctx * rng.uniform(0.7, 0.97))
                if m.provider == "openai":  # OpenAI caches in 128-token increments
                    cache -= cache % 128
                cache = min(cache, tokens_in)
            if self.agent.vocab == "legacy":
                cache = 0  # the old names have no cache-read count
            tokens_out = max(
                1,
                int(
                    rng.lognormvariate(
                        math.log(out_median * self.variant.output_scale * self.plan.output_factor),
                        0.6,
                    )
                ),
            )
            reasoning = cache_write = 0
            if model_name.startswith("o4"):  # reasoning models bill hidden thinking as output
                reasoning = int(rng.lognormvariate(math.log(300), 0.8))
                tokens_out += reasoning
            if (
                m.provider == "anthropic"
                and self.agent.vocab != "legacy"
                and rng.random() < self.agent.cache_p
            ):
                cache_write = tokens_in - cache  # explicit caching stores the new prefix
            f = self.plan.cost_factor
            if f != 1.0:
                # Context inflation (bloated tool output, memory): the input grows until
                # the call costs f times as much; answers and steps stay as they were.
                c_in = (tokens_in - cache) * m.input_price + cache * m.cached_price
                g = 1 + (f - 1) * (c_in + tokens_out * m.output_price) / max(c_in, 1e-9)
                tokens_in, cache = int(tokens_in * g), int(cache * g)
                if m.provider == "openai":
                    cache -= cache % 128
            if ok:
                secs = m.ttft_s * (1 + tokens_in / 8000) + tokens_out / m.tokens_per_s
                self.t += int(secs * rng.lognormvariate(0, 0.45) * NS)
            else:
                self.t += self._dur(0.6, 0.8)
                tokens_in = tokens_out = cache = reasoning = cache_write = 0
            err = "" if ok else rng.choice(LLM_ERRORS)
            name, kind, attrs, dims, model = vocab.llm_span(
                self.agent, self.plan.dims, model_name, bool(ok), tokens_in, tokens_out, cache,
                finish, f"resp_{self._id(96)}", err, cache_write=cache_write, reasoning=reasoning,
            )  # fmt: skip
            # Cache writes cost 1.25x the input price (Anthropic): the extra quarter here.
            cost = ((tokens_in - cache) * m.input_price + cache * m.cached_price
                    + tokens_out * m.output_price + 0.25 * cache_write * m.input_price) / 1e6  # fmt: skip
            provider = {"openinference": m.oi_provider, "legacy": m.legacy_system}.get(
                self.agent.vocab, m.provider
            )
            priced = call_cost(model, provider, start, (tokens_in, tokens_out, cache, cache_write))
            events = None if ok else [exception_event(self.t, err, f"{err}: request failed")]
            scope = (
                self.agent.scope if self.agent.vocab == "openinference" else LLM_SCOPES[m.provider]
            )
            self._emit("llm", parent, span_id, name, kind, attrs, start, self.t,
                       STATUS_ERROR if not ok else 0, "" if ok else f"{err}: request failed", dims,
                       scope, error=not ok, tokens=(tokens_in, tokens_out, cache), cost=cost,
                       model=model, events=events, priced_cost=priced)  # fmt: skip
            self.llm_calls += 1
            if ok:
                self.totals[0] += tokens_in
                self.totals[1] += tokens_out
                self.prev_ctx = self.ctx
                self.ctx += tokens_out
                return True
            self.t += int(rng.uniform(0.5, 4.0) * NS)  # SDK backoff before retrying
        return False

    def tool(self, parent: str, name: str, args: dict, size_from: str | None = None,
             no_errors: bool = False) -> bool:  # fmt: skip
        """One tool call and the agent's retries with the same arguments."""
        kind = TOOL_BY_NAME[name]
        rng = self.rng
        rate = kind.error_rate * self.agent.tool_error_scale
        if self.plan.tool_fail and self.plan.tool_fail[0] == name:
            rate = self.plan.tool_fail[1]
        for _attempt in range(3):
            self._gap()
            fail = not no_errors and rng.random() < rate
            span_id = self._id()
            start = self.t
            self.t += self._dur(kind.latency_s * (0.5 if fail else 1.0), 0.9)
            message = f"{kind.error_type}: {name} failed" if fail else ""
            sname, skind, attrs, dims = vocab.tool_span(
                self.agent, self.plan.dims, name, f"call_{self._id(96)}", args,
                kind.error_type if fail else None,
            )  # fmt: skip
            if kind.http:
                code = rng.choice((502, 503, 504)) if fail else 200
                hs = start + int(0.02 * (self.t - start))
                hn, hk, hattrs = vocab.http_span(kind.http, f"/v1/{name}", code)
                self._emit("other", span_id, self._id(), hn, hk, hattrs, hs, self.t - 1000,
                           STATUS_ERROR if fail else 0, "", {}, HTTP_SCOPE, error=fail)  # fmt: skip
            events = [exception_event(self.t, kind.error_type, message)] if fail else None
            self._emit("tool", parent, span_id, sname, skind, attrs, start, self.t,
                       STATUS_ERROR if fail else 0, message, dims, self.agent.scope, error=fail,
                       tool=name, events=events)  # fmt: skip
            if not fail:
                size = TOOL_BY_NAME[size_from or name].output_tokens
                self.ctx += rng.lognormvariate(math.log(size), 0.6)
                return True
            self.ctx += 40  # the error text the model sees
            if rng.random() > 0.75:
                break
            self.t += int(rng.uniform(0.2, 2.0) * NS)
        return False

    def pick_tool(self, prev: str | None) -> tuple[str, str | None]:
        """The next tool from the variant's mix (sometimes the same again), maybe drifted."""
        rng = self.rng
        if prev is not None and rng.random() < 0.2:
            name = prev
        else:
            name = rng.choices(self.tool_names, cum_weights=self.cum)[0]
        drift = self.plan.drift
        if drift and name == drift[0] and rng.random() < drift[2]:
            return drift[1], drift[0]  # sized like the tool it replaced: cost unchanged
        return name, None

    # -- the run -------------------------------------------------------------
    def run(self) -> RunPlan:
        plan, agent, rng = self.plan, self.agent, self.rng
        plan.run_id = self._id(128)
        root = self._id()
        self.llm_calls = 0
        self.prev_ctx = 0.0
        user_tokens = rng.lognormvariate(math.log(150), 0.8)
        self.ctx = agent.system_tokens + user_tokens * self.cohort_ctx
        primary = agent.models[0]
        models = agent.models
        mweights = list(agent.model_weights)
        median = self.variant.rounds_median * plan.rounds_factor
        rounds = max(0, int(rng.lognormvariate(math.log(median), agent.rounds_sigma)))
        rounds = min(rounds, 40)
        sub_round = (
            rng.randrange(rounds + 1)
            if agent.sub_agent and rng.random() < agent.sub_agent_p
            else -1
        )
        calm = bool(plan.loop_steps or plan.stuck)  # incident runs fail only as the incident says
        failure = ""
        prev: str | None = None
        for r in range(rounds + 1):
            if r == sub_round:
                self.sub_agent(root)
            if r == rounds:
                break
            model = primary if r == 0 else rng.choices(models, weights=mweights)[0]
            if not self.llm(root, model, "tool_calls", 150):
                failure = "LLM call failed after retries"
                break
            n = 1 if rng.random() > agent.parallel_p else rng.randint(2, 3)
            t0, t_end, ok = self.t, self.t, True
            for _ in range(n):
                self.t = t0
                name, size_from = self.pick_tool(prev)
                args = draw_arguments(rng, TOOL_BY_NAME[name].arg_keys)
                ok = self.tool(root, name, args, size_from, calm) and ok
                t_end = max(t_end, self.t)
                prev = name
            self.t = t_end
            if not ok and not calm and rng.random() < 0.25:
                failure = f"ToolError: {prev} failed after retries"
                break
        if not failure and plan.loop_steps:
            self.silent_loop(root)
        if not failure and plan.stuck:
            if not self.stuck_loop(root):
                return self.finish(root, None)  # hung: the root never ends
            failure = f"MaxTurnsExceeded: exceeded {plan.stuck[1]} turns"
        if not failure:
            model = rng.choices(models, weights=mweights)[0] if rounds else primary
            if not self.llm(root, model, "stop", 350):
                failure = "LLM call failed after retries"
            elif not calm and rng.random() < agent.extra_fail_p:
                failure = "OutputGuardrailTripwireTriggered: final answer rejected"
        return self.finish(root, failure)

    def sub_agent(self, root: str) -> None:
        agent, rng = self.agent, self.rng
        self._gap()
        sub_id, start = self._id(), self.t
        saved_ctx, saved_prev = self.ctx, self.prev_ctx
        self.ctx = rng.uniform(600, 3000)
        cheap = agent.models[-1]
        for _ in range(rng.randint(1, 2)):
            if not self.llm(sub_id, cheap, "stop", 180):
                break
        self.ctx, self.prev_ctx = saved_ctx + rng.uniform(80, 400), saved_prev
        self._gap()
        name, kind, attrs, dims = vocab.sub_agent_span(agent, agent.sub_agent or "sub")
        self._emit(
            "agent", root, sub_id, name, kind, attrs, start, self.t, 0, "", dims, agent.scope
        )

    def silent_loop(self, root: str) -> None:
        """Cycle over two or three tools with slightly varied arguments, never erring."""
        rng = self.rng
        k = min(len(self.tool_names), rng.randint(2, 3))
        cycle = rng.sample(self.tool_names, k)
        args = {n: draw_arguments(rng, TOOL_BY_NAME[n].arg_keys) for n in cycle}
        for i in range(self.plan.loop_steps):
            name = cycle[i % k]
            args[name] = vary_arguments(rng, args[name])
            if not self.llm(root, self.agent.models[0], "tool_calls", 60):
                return
            self.tool(root, name, args[name], no_errors=True)

    def stuck_loop(self, root: str) -> bool:
        """The same tool with identical arguments, again and again; False if the run hangs."""
        name, repeats, hangs = self.plan.stuck  # type: ignore[misc]
        args = draw_arguments(self.rng, TOOL_BY_NAME[name].arg_keys)
        for _ in range(repeats):
            self.llm(root, self.agent.models[0], "tool_calls", 40)
            self.tool(root, name, args, no_errors=True)
            self.t += int(self.rng.uniform(2.0, 20.0) * NS)  # waits, then polls again
        self.plan.effect_end_ns = self.t
        return not hangs

    def finish(self, root: str, failure: str | None) -> RunPlan:
        """Close the root span (unless the run hung) and hand the spans over."""
        plan, agent = self.plan, self.agent
        if failure is not None:
            self.t += int(self.rng.uniform(0.002, 0.02) * NS)
            status = STATUS_ERROR if failure else (STATUS_OK if agent.root_ok else 0)
            name, kind, attrs, dims = vocab.root_span(
                agent, plan.dims, self.totals[0], self.totals[1], f"{plan.dims.workflow} request"
            )
            events = [exception_event(self.t, failure.split(":")[0], failure)] if failure else None
            self._emit("agent", None, root, name, kind, attrs, plan.start_ns, self.t, status,
                       failure, dims, agent.scope, error=bool(failure), events=events)  # fmt: skip
        plan.spans = self.spans
        return plan
