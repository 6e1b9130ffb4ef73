"""The engine's own words to the model: what it says when a reply cannot be acted on, or a human spoke.

An agent's system prompt is its own (core/agent.py Instructions, versioned files); these nudges are
the same for every agent, so they say "the user" and name no domain.
"""

from __future__ import annotations

UNPARSEABLE_REPLY = (
    "Your last reply tried to call a tool but could not be parsed ({error}). "
    'Reply with only JSON: {{"name": "<tool name>", "arguments": {{...}}}}, or with a plain-text answer.'
)

REJECTED_REPLY = (
    "Your last reply was refused and discarded: {why} Reply again, briefly: only the JSON of one tool "
    "call with short arguments, or a final answer of 2 to 4 sentences."
)

CUT_OFF_REPLY = (
    "Your last reply was cut off because it was too long. Reply again, briefly: only the JSON of one tool "
    "call, or a final answer of 2 to 4 sentences."
)

EMPTY_REPLY = (
    "Your last reply was empty. If the case is solved, write your final answer for the user in plain "
    "text now; otherwise call the next tool."
)

CRITIC_REPLY = (
    "Your answer leaves out what was actually done. These actions happened: {facts} "
    "Write the final answer for the user again, in 2 to 4 sentences, stating them with their ids."
)

HUMAN_GUIDANCE = (
    "A human colleague ({responder}) reviewed this case and says: {text}\n"
    "Continue the case with this guidance."
)

# ── plan-and-execute (workflows/planning.py) ──

# Bench and test stand-ins recognise a planning request by this sentence.
PLAN_MARKER = "Plan this task as steps before anything runs."

PLAN_REQUEST = (
    PLAN_MARKER + " Reply with only JSON, no prose: "
    '{{"steps": [{{"id": "s1", "tool": "<tool name>", "arguments": {{...}}, "depends_on": [], '
    '"reason": "<why>"}}]}}. Steps without a dependency between them run in parallel. A later step may '
    'use a field of an earlier step\'s result as a whole argument value, written "$s1.<field>". '
    "At most {max_steps} steps. The tools:\n{tools}"
)

PLAN_REFUSED = (
    "Your plan was refused before anything ran, for these reasons (JSON): {issues}\n"
    "Reply with a corrected plan, as only JSON in the same form."
)

PLAN_REPLAN = (
    "These steps did not get done: {failed}. Their results are above. Reply with a new plan, as only "
    "JSON in the same form, for what remains of the task (steps already done need not run again); "
    'or {{"steps": []}} if nothing more can be done.'
)

PLAN_ANSWER = (
    "The plan has run; the step results are above. Write the final answer for the user now, in plain "
    "text, from those results only."
)
