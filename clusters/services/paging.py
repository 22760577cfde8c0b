"""Page arithmetic shared by the paged lists (topics, consumer groups)."""

from __future__ import annotations


class PageNumbers:
    """`pages`, `has_next` and `has_previous` of a page record with `total`, `page` and
    `page_size` fields (a dataclass mixes this in)."""

    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1
