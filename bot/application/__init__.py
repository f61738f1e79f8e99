"""The application layer: the use cases every door calls.

One module per feature. The chat handlers, the command line and the web pages parse
their input, call a use case here and render what it returns; none of them holds a
business rule or touches a repository. A use case takes the :class:`UnitOfWork` of the
request (its repositories, committed together) and, where time matters, a
:data:`~quizzes.clock.Clock`, and returns domain objects or small result dataclasses.
"""

from __future__ import annotations

from quizzes.clock import Clock, system_clock
from storage.unit_of_work import UnitOfWork

__all__ = ["Clock", "UnitOfWork", "system_clock"]
