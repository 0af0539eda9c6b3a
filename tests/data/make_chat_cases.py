#!/usr/bin/env python3
"""Renders extra chat-template cases for tests/test_chat.c with the official
templates in ../shared/fixtures/chat_templates and the same Jinja setup as
that folder's render_golden.py (HF apply_chat_template semantics).

Usage: python3 tests/data/make_chat_cases.py > tests/data/chat_cases.json
Needs Jinja2 >= 3.1. Cases a template cannot render (Jinja raises) are left out.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "..", "..", "shared", "fixtures", "chat_templates")
sys.dont_write_bytecode = True
sys.path.insert(0, FIX)
import render_golden  # noqa: E402

TOOLS = [
    {"type": "function", "function": {
        "name": "convert", "description": "Converts °C to °F — exactly.",
        "parameters": {"type": "object", "properties": {
            "value": {"type": "number", "default": 5.0, "minimum": -273.15},
            "big": {"type": "integer", "maximum": 12345678901234567890},
            "tiny": {"type": "number", "default": 1e-05}},
            "required": ["value"]}}},
    {"type": "function", "function": {"name": "noop", "parameters": {}}},
]

CASES = [
    {"name": "reasoning_field", "messages": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4", "reasoning_content": "simple"},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "\n6", "reasoning_content": "\n\nadd them\n"}],
     "tools": None, "add_generation_prompt": False},
    {"name": "think_in_content_last", "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nanswer"}],
     "tools": None, "add_generation_prompt": False},
    {"name": "think_in_content_earlier", "messages": [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "x<think>a\n\n</think>b</think>\nc"},
        {"role": "user", "content": "q2"}],
     "tools": None, "add_generation_prompt": True},
    {"name": "multi_system", "messages": [
        {"role": "system", "content": "S1"},
        {"role": "user", "content": "u"},
        {"role": "system", "content": "S2"},
        {"role": "user", "content": "u2"}],
     "tools": None, "add_generation_prompt": True},
    {"name": "tools_runs", "messages": [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Convert 5"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "convert",
             "arguments": {"value": 5.0, "opts": {"ünits": ["°F", 2]}, "n": None}}},
            {"id": "b", "type": "function", "function": {"name": "noop", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "41.0"},
        {"role": "tool", "tool_call_id": "b", "content": ""},
        {"role": "user", "content": "<tool_response>\nok\n</tool_response>"},
        {"role": "assistant", "content": "41 °F"}],
     "tools": TOOLS, "add_generation_prompt": True},
    {"name": "tool_first", "messages": [
        {"role": "tool", "content": "orphan"},
        {"role": "user", "content": "hi"}],
     "tools": None, "add_generation_prompt": True},
    {"name": "no_generation_prompt", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"}],
     "tools": None, "add_generation_prompt": False},
    {"name": "empty_tools", "messages": [
        {"role": "user", "content": "hi"}],
     "tools": [], "add_generation_prompt": True},
    {"name": "empty_system_with_tools", "messages": [
        {"role": "system", "content": ""},
        {"role": "user", "content": "u"}],
     "tools": TOOLS, "add_generation_prompt": True},
    {"name": "empty_system", "messages": [
        {"role": "system", "content": ""},
        {"role": "user", "content": "u"}],
     "tools": None, "add_generation_prompt": True},
    {"name": "call_without_content", "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"name": "noop", "arguments": {}}]},
        {"role": "tool", "content": "done"}],
     "tools": TOOLS, "add_generation_prompt": True},
    {"name": "only_system", "messages": [
        {"role": "system", "content": "alone"}],
     "tools": None, "add_generation_prompt": True},
]


def main():
    env = render_golden.make_env()
    out = []
    for key, rel in render_golden.TEMPLATES.items():
        with open(os.path.join(FIX, rel), encoding="utf-8") as fh:
            tmpl = env.from_string(fh.read())
        for case in CASES:
            kwargs = {"messages": case["messages"],
                      "add_generation_prompt": case["add_generation_prompt"],
                      "bos_token": "", "eos_token": ""}
            if case["tools"] is not None:
                kwargs["tools"] = case["tools"]
            try:
                rendered = tmpl.render(**kwargs)
            except Exception:  # the template itself cannot render this case
                continue
            out.append({"template": key, "case": case["name"], "messages": case["messages"],
                        "tools": case["tools"],
                        "add_generation_prompt": case["add_generation_prompt"],
                        "rendered": rendered})
    json.dump({"generator": "tests/data/make_chat_cases.py",
               "pinned_strftime_now": render_golden.FIXED_NOW.isoformat(),
               "cases": out}, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
