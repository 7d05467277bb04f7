"""The plugin as a user meets it: a temporary project whose tests ask for `captured_spans`, found through the entry point."""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]

AGENT = '''
import tracing
from tracing import ResponsesAgent, ResponsesAgentRequest, ResponsesAgentResponse


@tracing.trace(span_type="TOOL")
def get_weather(city: str) -> str:
    return {"paris": "sunny"}.get(city.lower(), "unknown")


class WeatherAgent(ResponsesAgent):
    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        city = str(request.input[-1].content).rstrip("?").split()[-1]
        answer = f"{city}: {get_weather(city)}"
        return ResponsesAgentResponse(output=[self.create_text_output_item(answer, "msg_1")])
'''

TESTS = '''
from weather_agent import WeatherAgent

REQUEST = {"input": [{"role": "user", "content": "Weather in Paris?"}]}


def test_the_agent_calls_the_tool(captured_spans):
    WeatherAgent().predict(REQUEST)
    captured_spans.assert_tree("""
        WeatherAgent.predict [AGENT]
          get_weather [TOOL]
    """)
    agent = captured_spans.one(type="AGENT")
    assert agent.outputs["output"][0]["content"][0]["text"] == "Paris: sunny"
    assert agent.children[0].inputs == {"city": "Paris"}


def test_a_wrong_expectation(captured_spans):
    WeatherAgent().predict(REQUEST)
    captured_spans.assert_tree("""
        WeatherAgent.predict [AGENT]
          search_web [TOOL]
    """)


def test_a_missing_span(captured_spans):
    WeatherAgent().predict(REQUEST)
    captured_spans.one(name="get_forecast")
'''


def _shows(result: pytest.RunResult, lines: list[str]) -> None:
    """The output holds these lines, one after the other."""
    result.stdout.re_match_lines([re.escape(line) + "$" for line in lines], consecutive=True)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(weather_agent=AGENT, test_weather=TESTS)
    pytester.syspathinsert()
    return pytester


def test_a_users_test_passes_and_failing_ones_read_well(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    _shows(result, [
        "E       AssertionError: the captured spans do not have the expected shape:",
        "E       --- expected",
        "E       +++ captured",
        "E       @@ -1,2 +1,2 @@",
        "E        WeatherAgent.predict [AGENT]",
        "E       -  search_web [TOOL]",
        "E       +  get_weather [TOOL]",
    ])
    _shows(result, [
        "E       AssertionError: expected exactly one span (name='get_forecast'), found 0; captured:",
        "E       WeatherAgent.predict [AGENT]",
        "E         get_weather [TOOL]",
    ])
    assert "tracing/testing.py" not in result.stdout.str(), "the library's own frames are hidden from the failure"


@pytest.mark.slow
def test_the_fixture_works_under_xdist(project: pytest.Pytester) -> None:
    project.makepyfile(test_many="""
        import pytest
        from weather_agent import WeatherAgent

        @pytest.mark.parametrize("city", ["Paris", "Oslo", "Rome", "Lima", "Kyiv", "Quito"])
        def test_each_test_sees_only_its_own_spans(captured_spans, city):
            WeatherAgent().predict({"input": [{"role": "user", "content": f"Weather in {city}?"}]})
            assert [span.name for span in captured_spans] == ["WeatherAgent.predict", "get_weather"]
            assert captured_spans.one(type="TOOL").inputs == {"city": city}
    """)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "test_many.py")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*2 workers*"])


def test_the_plugin_comes_from_the_entry_point_and_sets_up_nothing_for_other_tests(project: pytest.Pytester) -> None:
    project.makeconftest("""
        from opentelemetry import trace

        def pytest_sessionfinish(session):
            from tracing import _runtime
            print("pipeline set up:", _runtime.state.pipeline is not None,
                  "global provider set:", not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider))
    """)
    project.makepyfile(test_plain="def test_nothing_traced():\n    assert True\n")
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-s", "test_plain.py")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["plugins: *agent-tracing-*", "*pipeline set up: False global provider set: False"])
    assert not (project.path / "traces").exists()
