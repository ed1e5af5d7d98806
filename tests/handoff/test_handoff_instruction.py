"""What the box asks, read from its text: the characters between 【】 in order, or the slider."""

from __future__ import annotations

from bot.handoff.check import Instruction, read_instruction

CLICK_BOX = "请完成安全校验\n请依次点击：【备】【案】【核】\n换一张\n"


def test_click_form_names_the_characters_in_order() -> None:
    assert read_instruction(CLICK_BOX) == Instruction(
        form="click",
        characters=("备", "案", "核"),
        english="Click 备, 案, 核 in this order",
        chinese="请依次点击：【备】【案】【核】",
    )


def test_slider_form() -> None:
    found = read_instruction("请完成安全校验\n向右拖动滑块填充拼图\n向右拖动滑块填充拼图\n换一张")
    assert (found.form, found.characters, found.english, found.chinese) == (
        "slider",
        (),
        "Drag the piece into the gap",
        "向右拖动滑块填充拼图",
    )


def test_verdicts_are_told_in_english() -> None:
    wrong = read_instruction(CLICK_BOX + "验证错误，请重新验证")
    assert wrong.notice is not None
    assert wrong.notice.startswith("Not right")
    passed = read_instruction(CLICK_BOX + "验证成功")
    assert passed.notice is not None
    assert "accepted" in passed.notice
    assert read_instruction(CLICK_BOX).notice is None


def test_an_unknown_form_still_shows_the_sites_words() -> None:
    found = read_instruction("请完成安全校验\n请选出所有的汽车")
    assert found.form == "unknown"
    assert found.characters == ()
    assert found.chinese == "请完成安全校验 请选出所有的汽车"
