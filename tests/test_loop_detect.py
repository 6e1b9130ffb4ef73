"""Loop detection: each pattern, warn-then-stop, no false positives, state that survives serialization."""

from __future__ import annotations

from workflows.loop_detect import LoopDetector, canonical_args

TXN = '{"transaction_id": "pay_1"}'
RESULT = '{"ok": true, "result": {"id": "pay_1", "amount": 49.99}}'


def run(d: LoopDetector, tool: str, args: str, result: str, turn: int | None = None) -> None:
    verdict = d.observe_call(tool, args, turn)
    assert verdict.kind is None, verdict
    assert d.observe_result(tool, args, result).kind is None


def test_repeat_call_warns_with_the_earlier_result_then_stops() -> None:
    d = LoopDetector()
    run(d, "get_transaction", TXN, RESULT)
    first = d.observe_call("get_transaction", '{"transaction_id":"pay_1"}')  # same args, other spelling
    assert (first.kind, first.detections, first.stop) == ("repeat_call", 1, False)
    assert RESULT in first.message_for_model and "change your approach" in first.message_for_model
    second = d.observe_call("get_transaction", TXN)
    assert (second.kind, second.detections, second.stop) == ("repeat_call", 2, True)
    assert d.counters.repeat_call == 2 and d.counters.stopped


def test_same_result_for_the_same_call() -> None:
    d = LoopDetector()
    run(d, "get_transaction", TXN, RESULT)
    # The workflow ran it again anyway (e.g. a poll): the identical answer is flagged.
    d.observe_call("search_knowledge_base", '{"query": "x"}')
    verdict = d.observe_result("get_transaction", {"transaction_id": "pay_1"}, RESULT)
    assert verdict.kind == "same_result" and RESULT in verdict.message_for_model
    assert d.observe_result("get_transaction", TXN, RESULT + " ").kind is None  # a changed answer is news


def test_ping_pong_between_two_exact_calls() -> None:
    d = LoopDetector()
    a, b = ("get_transaction", TXN), ("get_merchant_account", '{"merchant_id": "MID1"}')
    run(d, *a, RESULT)
    run(d, *b, '{"ok": true}')
    assert d.observe_call(*a).kind == "repeat_call"  # warned, not run
    verdict = d.observe_call(*b)
    assert (verdict.kind, verdict.stop) == ("ping_pong", True)
    assert "alternating" in verdict.message_for_model and d.counters.ping_pong == 1


def test_same_tool_streak_counts_turns_not_parallel_calls() -> None:
    d = LoopDetector(streak_n=3)
    for turn in (1, 2):
        run(d, "search_knowledge_base", f'{{"query": "q{turn}"}}', f"r{turn}", turn)
    verdict = d.observe_call("search_knowledge_base", '{"query": "q3"}', 3)
    assert (verdict.kind, verdict.stop) == ("same_tool_streak", False)
    assert "3 turns in a row" in verdict.message_for_model
    parallel = LoopDetector(streak_n=3)
    for n in range(6):  # six ids looked up in one turn is one step, not a streak
        run(parallel, "get_transaction", f'{{"transaction_id": "pay_{n}"}}', f"r{n}", 1)


def test_no_false_positives_on_legitimately_different_calls() -> None:
    d = LoopDetector()
    run(d, "get_transaction", TXN, RESULT, 1)
    run(d, "get_transaction", '{"transaction_id": "pay_2"}', RESULT.replace("pay_1", "pay_2"), 2)
    run(d, "get_merchant_account", '{"merchant_id": "MID1"}', "m1", 3)
    run(d, "get_transaction", '{"transaction_id": "pay_3"}', "r3", 4)
    run(d, "get_merchant_account", '{"merchant_id": "MID2"}', "m2", 5)  # alternating tools, new ids
    # The same "not found" answer for two different ids is not a loop.
    run(d, "get_transaction", '{"transaction_id": "pay_9"}', "not found", 6)
    run(d, "get_transaction", '{"transaction_id": "pay_8"}', "not found", 7)
    assert d.counters.detections == 0


def test_state_round_trips_for_continue_as_new() -> None:
    d = LoopDetector()
    run(d, "get_transaction", TXN, RESULT)
    carried = LoopDetector.model_validate(d.model_dump(mode="json"))
    assert carried.observe_call("get_transaction", TXN).kind == "repeat_call"
    assert carried.counters.detections == 1


def test_canonical_args_ignores_key_order_and_keeps_non_json() -> None:
    assert canonical_args('{"b": 1, "a": 2}') == canonical_args({"a": 2, "b": 1}) == '{"a":2,"b":1}'
    assert canonical_args("not json") == "not json"


def test_results_memory_is_bounded() -> None:
    d = LoopDetector(memory=4)
    for n in range(10):
        d.observe_result("get_transaction", f'{{"transaction_id": "pay_{n}"}}', "r")
    assert len(d.results) == 4
