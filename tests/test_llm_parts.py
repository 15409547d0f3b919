"""The LLM engine's pure parts: answer parsing, pricing, tool specs, prompts, client configuration."""

from __future__ import annotations

import json

import pytest

from agents.llm import AnswerError, LLMNotConfigured, builtin_specs, cost_usd, make_client, parse_answer, price_for
from agents.llm.client import PLACEHOLDER_KEY
from agents.llm.pricing import UnpricedModel
from agents.llm.prompts import initial_messages, knowledge_text, system_prompt
from agents.llm.tools import ToolSpec, function_definitions, specs_from_registry
from agents.tools.builtin import BUILTIN_TOOLS
from schemas.knowledge import KnowledgeEntry
from schemas.result import DiagnosticResult, Evidence, ProblemCategory, ResultSummary, RootCauseAnalysis
from schemas.settings import LLMSettings, SettingsError, load_settings
from schemas.signal import Priority
from schemas.task import DiagnosticTask, ResourceInfo, TaskContext

GOOD = {"summary": {"problem": "p"}, "root_cause": {"description": "d", "category": "dns_failure"}, "confidence": 0.7}


def test_answer_parses_plain_fenced_and_wrapped_json():
    assert parse_answer(json.dumps(GOOD)).root_cause.category is ProblemCategory.DNS_FAILURE
    assert parse_answer("```json\n" + json.dumps(GOOD) + "\n```").confidence == 0.7
    assert parse_answer("Here it is: " + json.dumps(GOOD) + " Hope it helps.").summary.problem == "p"


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("no json here", "no JSON object"),
    ("{'single': 'quotes'}", "does not parse"),
    (json.dumps({**GOOD, "root_cause": {"description": "d", "category": "cosmic_rays"}}), "root_cause.category"),
    (json.dumps({**GOOD, "confidence": 1.4}), "confidence"),
    (json.dumps({"summary": {"problem": "p"}, "confidence": 0.5}), "root_cause: Field required"),
])
def test_bad_answers_say_what_is_wrong(text, message):
    with pytest.raises(AnswerError, match=message):
        parse_answer(text)


def test_prices_exact_dated_variant_and_unknown_model():
    prices = {"gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.0)}
    assert price_for(prices, "gpt-4o-mini").matched == "gpt-4o-mini"
    dated = price_for(prices, "gpt-4o-2024-08-06")
    assert dated.matched == "gpt-4o" and not dated.assumed
    assert price_for(prices, "gpt-4o-mini-2024-07-18").matched == "gpt-4o-mini"  # the longest prefix wins
    assert price_for(prices, "requested-alias", "gpt-4o-mini").matched == "gpt-4o-mini"  # the reported name
    with pytest.raises(UnpricedModel, match="llama-3-70b"):  # never a silent guess
        price_for(prices, "llama-3-70b")
    assumed = price_for(prices, "llama-3-70b", assumed=(0.5, 1.5))  # only when configured, and flagged
    assert assumed.assumed and (assumed.input_per_m, assumed.output_per_m) == (0.5, 1.5)
    assert cost_usd(dated, 1_000_000, 100_000) == pytest.approx(3.50)
    with pytest.raises(ValueError):
        cost_usd(dated, -1, 0)


def test_an_unpriced_model_is_a_configuration_error_unless_a_price_is_assumed():
    with pytest.raises(SettingsError, match=r"no price for cheap_model='smollm2'.*llm.assumed_price"):
        load_settings(llm={"cheap_model": "smollm2", "strong_model": "gpt-4o"})
    local = load_settings(llm={"cheap_model": "smollm2", "strong_model": "smollm2", "prices": {"smollm2": [0, 0]}})
    assert local.llm.prices["smollm2"] == (0, 0)
    assumed = load_settings(llm={"cheap_model": "mine", "strong_model": "mine", "assumed_price": [1, 2]})
    assert assumed.llm.assumed_price == (1, 2)
    with pytest.raises(SettingsError, match="prices must be finite"):
        load_settings(llm={"prices": {"gpt-4o": [-1, 0], "gpt-4o-mini": [0, 0]}})


def test_tool_specs_cover_every_builtin_tool_with_its_parameters():
    specs = {s.id: s for s in builtin_specs()}
    assert set(specs) == set(BUILTIN_TOOLS)
    logs = specs["pod_logs"].parameters
    assert logs["required"] == ["namespace", "name"]
    assert logs["properties"]["previous"] == {"type": "boolean", "default": False}
    assert logs["properties"]["tail_lines"]["type"] == "integer"
    assert specs["get_workload"].parameters["properties"]["kind"]["enum"][0] == "deployment"
    assert "required" not in specs["list_nodes"].parameters
    assert all(s.description and s.description != s.id for s in specs.values())
    defs = function_definitions(specs.values())
    assert defs[0]["type"] == "function" and set(defs[0]["function"]) == {"name", "description", "parameters"}


def test_registry_adapter_takes_objects_or_dicts_with_a_json_schema():
    class Entry:
        id, description = "get_pod", "one pod"

        def json_schema(self):
            return {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[a-z0-9-]+$"}}}

    specs = specs_from_registry([Entry(), {"id": "list_nodes", "description": "nodes",
                                           "input_schema": {"type": "object", "properties": {}}}])
    assert [s.id for s in specs] == ["get_pod", "list_nodes"]
    assert specs[0].parameters["properties"]["name"]["pattern"] == "^[a-z0-9-]+$"
    with pytest.raises(ValueError, match="'broken' has no JSON schema"):
        specs_from_registry([{"id": "broken", "description": "x"}])


def _task() -> DiagnosticTask:
    return DiagnosticTask(id="t", cluster_id="prod", priority=Priority.P2,
                          resource=ResourceInfo(kind="pod", name="api-1", namespace="web"),
                          context=TaskContext(alertname="KubePodCrashLooping",
                                              labels={"pod": "api-1"},
                                              annotations={"description": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}))


def test_prompts_carry_task_findings_and_knowledge_and_are_redacted():
    findings = DiagnosticResult(
        task_id="t", summary=ResultSummary(problem="crash"), confidence=0.6,
        root_cause=RootCauseAnalysis(description="exits 1", category=ProblemCategory.APPLICATION_CRASH,
                                     evidence=[Evidence(source="pod/web/api-1 logs", detail="password=swordfish123 rejected", kind="log")]))
    knowledge = [KnowledgeEntry(id="k1", title="CrashLoop runbook", content="Check the previous logs first."),
                 {"title": "Past case", "content": "DB creds rotated"}]
    system, user = initial_messages(_task(), findings=findings, knowledge=knowledge)
    assert system["role"] == "system" and "oom_killed" in system["content"] and "READ" in system["content"]
    text = user["content"]
    assert "KubePodCrashLooping" in text and "web/api-1" in text
    assert "application_crash" in text and "pod/web/api-1 logs" in text
    assert "CrashLoop runbook" in text and "Past case" in text
    assert "swordfish123" not in text and "eyJhbGciOiJIUzI1NiJ9" not in text and "[REDACTED" in text


def test_prompt_lists_every_category_and_accepts_text_findings():
    prompt = system_prompt()
    assert all(f"- {c.value}:" in prompt for c in ProblemCategory)
    _, user = initial_messages(_task(), findings="raw text from the rules")
    assert "raw text from the rules" in user["content"]
    _, user = initial_messages(_task())
    assert "(none: the rule engine has not run" in user["content"]
    assert knowledge_text(["a" * 5000]).count("a") == 1500


def test_client_honours_settings_then_openai_env(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(LLMNotConfigured):
        make_client(LLMSettings())
    local = make_client(LLMSettings(base_url="http://127.0.0.1:9/v1"))
    assert str(local.base_url).startswith("http://127.0.0.1:9/v1") and local.api_key == PLACEHOLDER_KEY
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    env = make_client(LLMSettings(timeout_seconds=7), max_retries=0)
    assert str(env.base_url).startswith("http://127.0.0.1:8/v1") and env.api_key == "sk-env"
    assert env.timeout == 7 and env.max_retries == 0
    explicit = make_client(LLMSettings(base_url="http://127.0.0.1:7/v1", api_key="sk-cfg"))
    assert explicit.api_key == "sk-cfg" and str(explicit.base_url).startswith("http://127.0.0.1:7/v1")


def test_specs_from_the_gateway_registry_filtered_by_role_and_cluster():
    registry = pytest.importorskip("agents.tools.registry")
    tools = registry.load_registry().tools
    specs = specs_from_registry(tools)
    assert {s.id for s in specs} == {t.id for t in tools} and specs[0].parameters == tools[0].json_schema()
    assert all(s.description for s in specs)
    narrowed = [{"id": "get_pod", "description": "d", "json_schema": {"type": "object"}, "allowed_roles": ["admin"],
                 "clusters": "*"},
                {"id": "list_nodes", "description": "d", "json_schema": {"type": "object"}, "allowed_roles": ["sre"],
                 "clusters": ["prod"]}]
    assert [s.id for s in specs_from_registry(narrowed, role="sre", cluster_id="prod")] == ["list_nodes"]
    assert [s.id for s in specs_from_registry(narrowed, role="admin", cluster_id="dev")] == ["get_pod"]


def test_schemas_sent_to_the_model_keep_what_grammar_converters_take():
    """The gateway's patterns (DNS names with `\\.`) stay in the gateway: llama.cpp's json-schema-to-grammar fails
    on them. Types, enums, bounds, lengths, descriptions and the required list reach the model."""
    registry = pytest.importorskip("agents.tools.registry")
    tools = registry.load_registry().tools
    defs = function_definitions(specs_from_registry(tools))
    sent = json.dumps(defs)
    assert '"pattern"' not in sent and any(t.json_schema() != d["function"]["parameters"] for t, d in zip(tools, defs))
    pod = next(d["function"]["parameters"] for d in defs if d["function"]["name"] == "get_pod")
    full = next(t.json_schema() for t in tools if t.id == "get_pod")
    assert pod["required"] == full["required"] and pod["additionalProperties"] is False
    for name, prop in full["properties"].items():
        assert pod["properties"][name] == {k: v for k, v in prop.items() if k != "pattern"}
    nested = {"type": "object", "properties": {"pattern": {"type": "string", "pattern": "^a$", "format": "x"},
                                               "xs": {"type": "array", "items": {"type": "string", "pattern": "b"}}},
              "$defs": {}, "anyOf": []}
    assert function_definitions([ToolSpec(id="t", description="d", parameters=nested)])[0]["function"]["parameters"] == {
        "type": "object", "properties": {"pattern": {"type": "string"}, "xs": {"type": "array", "items": {"type": "string"}}}}
