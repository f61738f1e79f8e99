"""The Excel template teachers fill in to make a question bank (``pufa bank template``)."""

from __future__ import annotations

from typing import Any

from quizzes.bank import LETTERS, MAX_EXPLANATION_LENGTH, MAX_OPTION_LENGTH, MAX_STEM_LENGTH
from quizzes.spreadsheet_safety import workbook_bytes

__all__ = ["TEMPLATE_HEADER", "bank_template_xlsx"]

TEMPLATE_HEADER: tuple[str, ...] = (
    "题型",
    "题干",
    *(f"选项{letter}" for letter in LETTERS),
    "答案",
    "解析",
    "标签",
    "难度",
    "适用学段",
    "出处",
)


def _row(
    kind: str,
    stem: str,
    options: tuple[str, ...],
    answer: str,
    explanation: str,
    tags: str,
    difficulty: str,
    level: str,
    source: str,
) -> list[object]:
    padded = list(options) + [""] * (len(LETTERS) - len(options))
    return [kind, stem, *padded, answer, explanation, tags, difficulty, level, source]


_EXAMPLES: tuple[list[object], ...] = (
    _row(
        "单选",
        "中华人民共和国的根本制度是（ ）。",
        ("社会主义制度", "人民代表大会制度", "民族区域自治制度", "基层群众自治制度"),
        "A",
        "《宪法》第一条第二款：社会主义制度是中华人民共和国的根本制度。",
        "总纲",
        "中",
        "初中",
        "宪法第一条",
    ),
    _row(
        "多选",
        "依照宪法，下列既是中华人民共和国公民的权利又是公民的义务的有（ ）。",
        ("劳动", "受教育", "依照法律纳税", "依照法律服兵役"),
        "AB",
        "《宪法》第四十二条第一款：公民有劳动的权利和义务；"
        "第四十六条第一款：公民有受教育的权利和义务。",
        "公民的基本权利和义务",
        "中",
        "初中",
        "宪法第四十二条、第四十六条",
    ),
    _row(
        "判断",
        "中华人民共和国公民在法律面前一律平等。",
        (),
        "对",
        "《宪法》第三十三条第二款：中华人民共和国公民在法律面前一律平等。",
        "公民的基本权利和义务",
        "易",
        "小学",
        "宪法第三十三条",
    ),
)

_NOTES: tuple[tuple[str, str], ...] = (
    ("列名", "说明"),
    ("题型", "必填。填写“单选”“多选”或“判断”（也可以写 single、multiple、true_false）。"),
    (
        "题干",
        f"必填。题目内容，不超过 {MAX_STEM_LENGTH} 个字；同一文件中题干不能重复。"
        "用于群内测验投票的题目，题干最好不超过 300 个字。",
    ),
    (
        "选项A～选项H",
        f"选择题必填，至少 2 个、最多 8 个，从选项A开始连续填写；每个选项不超过 "
        f"{MAX_OPTION_LENGTH} 个字（Telegram 按钮和投票的上限），同一题的选项不能重复。"
        "判断题的选项可以留空，系统自动使用“正确/错误”。"
        "也可以不用这八列，只用一列“选项”，在一个格子里写“A.… B.…”或每行写一个选项。",
    ),
    (
        "答案",
        "必填。单选题填一个字母，如“A”；多选题填多个字母，如“AC”或“A,C”；"
        "判断题填“对”或“错”（也可以写“正确/错误”“√/×”“T/F”）。",
    ),
    (
        "解析",
        f"选填，建议填写。答题后显示，写明依据的宪法条款，如“《宪法》第三十三条第三款：……”；"
        f"不超过 {MAX_EXPLANATION_LENGTH} 个字（用于群内测验投票时最好不超过 200 个字）。",
    ),
    ("标签", "选填。题目分类，如“总纲”“国家机构”；多个标签用逗号、顿号或分号隔开。"),
    (
        "难度",
        "选填。填写“易”“中”或“难”，留空按“中”。小学的答题活动不会抽到“难”的题目。"
        "难：需要记住条文序号、国家机构的职权或宪法修正内容的题目。",
    ),
    (
        "适用学段",
        "选填。填写“小学”“初中”或“高中及教职工”，表示从这个学段起适用："
        "“小学”的题目各学段都可以抽到，“初中”的题目用于初中和高中及教职工，"
        "“高中及教职工”的题目只用于高中及教职工。留空按“初中”。也可以用列名“级别”。",
    ),
    ("出处", "选填。题目依据，如“宪法第一条”。"),
    (
        "图片",
        "选填，可另加此列。每题可配一张 PNG 或 JPG 图片，不超过 1 MB：把图片直接插入该题所在行"
        "（图片左上角落在这一行即可）；或在命令行导入时，在此列填写与题库文件放在同一文件夹的"
        "图片文件名，如“交通标志1.png”。",
    ),
    ("", ""),
    ("填写规则", ""),
    ("1", "第一行是表头，请勿修改列名；每道题占一行，空行会被忽略。"),
    ("2", "示例行（第 2 至 4 行）请替换为实际题目后再上传。"),
    ("3", "文件中有任何错误时整个文件都不会导入，机器人会按行列出所有问题。"),
    ("4", "再次上传同名题库会替换原有题目；题库名称默认取文件名（不含扩展名）。"),
    (
        "5",
        "支持 .xlsx 文件、UTF-8 / GB18030 编码的 .csv 文件，以及问卷星格式的 .txt / .docx 文件"
        "（每道题以题号开头，选项以“A.”开头，另起一行写“答案：A”）；大小不超过 5 MB。",
    ),
    ("6", "答题时只显示文字，不显示图片：题目里请不要写“如下图”，需要时改用文字描述。"),
)


def bank_template_xlsx() -> bytes:
    """A workbook with the Chinese header, one example per question type, and a 说明 sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    workbook = Workbook()
    sheet: Any = workbook.active
    sheet.title = "题库"
    sheet.append(list(TEMPLATE_HEADER))
    for example in _EXAMPLES:
        sheet.append(example)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center")
    widths = (8, 40, *([16] * len(LETTERS)), 8, 40, 16, 6, 12, 16)
    for cell, width in zip(sheet[1], widths, strict=True):
        sheet.column_dimensions[cell.column_letter].width = width
    sheet.freeze_panes = "C2"

    notes: Any = workbook.create_sheet("说明")
    for note in _NOTES:
        notes.append(list(note))
    notes["A1"].font = Font(bold=True)
    notes["B1"].font = Font(bold=True)
    notes["A12"].font = Font(bold=True)
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 90
    for row in notes.iter_rows():
        row[1].alignment = Alignment(wrap_text=True, vertical="top")

    return workbook_bytes(workbook)
