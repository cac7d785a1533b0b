"""Lint tests compare English text unless a test says otherwise: the language the test
process was started in (LANG=zh_CN.UTF-8 on a Chinese desk) must not change them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sopctl.i18n import using


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with using("en"):
        yield
