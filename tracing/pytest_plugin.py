"""The pytest plugin of agent-tracing (entry point `pytest11`): the `captured_spans` fixture.

Active only in tests that ask for the fixture; the tracing pipeline is imported and set up then, not when pytest
loads the plugin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tracing.testing import CapturedSpans


@pytest.fixture
def captured_spans() -> Iterator[CapturedSpans]:
    """The spans this test finishes, in a tracing pipeline of its own (the previous one is put back afterwards).

    Query them with `one(name=, type=)`, `all(...)`, `roots()`, `tree()` and `assert_tree(shape)`; each span has
    `.name`, `.type`, `.parent`, `.children`, `.attributes`, `.inputs`, `.outputs`, `.status`, `.events`,
    `.documents` and `.stream`. `captured_spans.configure(**settings)` starts again with other settings.
    """
    from tracing.testing import capturing

    with capturing() as spans:
        yield spans
