"""The report section: the figures of :mod:`storage.statistics` as a document, tables, a chart.

``compile_report`` counts (SQL) and renders (in a worker thread): ``report.md`` and
``report.docx`` from the Jinja2 template ``bot/templates/report.<locale>.md.j2``,
``participation.xlsx``, ``participation.csv`` and ``participation.png``. Every figure in
every file comes from one :class:`quizzes.statistics.Statistics`; none names a person.
"""

from bot.reports.compile import FILE_NAMES, ReportFiles, compile_report, resolve_scope

__all__ = ["FILE_NAMES", "ReportFiles", "compile_report", "resolve_scope"]
