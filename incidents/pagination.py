"""Pagination that stays fast on large tables."""

from django.core.paginator import EmptyPage, Page, Paginator
from django.utils.functional import cached_property

COUNT_CAP = 1_000


class CappedPage(Page):
    """A page that knows whether another follows without a full count."""

    def __init__(self, object_list, number, paginator, *, has_more: bool):
        super().__init__(object_list, number, paginator)
        self.has_more = has_more

    def has_next(self):
        return self.has_more


class CappedCountPaginator(Paginator):
    """Count at most COUNT_CAP + 1 rows; past that the page says "1,000+".

    An exact COUNT(*) over a filter matching most of 100,000 incidents costs
    more than the page itself. When the count is capped, "next" is decided by
    looking one row past the page instead.

    ``rows``, if given, loads the page's rows by primary key in place of
    the filtered list: the ids already passed the filters, and some filters
    (a broad search) cost as much again when repeated.
    """

    def __init__(self, object_list, per_page, *, rows=None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.rows = object_list if rows is None else rows

    @cached_property
    def count(self):
        # Without order_by() the database sorts the capped rows inside the
        # count's subquery for nothing.
        return self.object_list.order_by()[: COUNT_CAP + 1].count()

    @property
    def count_cap(self) -> int:
        return COUNT_CAP

    @property
    def is_count_capped(self) -> bool:
        return self.count > COUNT_CAP

    @cached_property
    def num_pages(self):
        if self.is_count_capped:
            return 10**9
        return super().num_pages

    def get_page(self, number):
        """Return a valid page: the first for nonsense, an empty one past the end.

        With a capped count the last page is unknown, so a number past the
        end gives an empty page (the list says so and links back) instead of
        Django's "last page".
        """
        try:
            number = int(number)
        except (TypeError, ValueError):
            number = 1
        try:
            return self.page(max(number, 1))
        except EmptyPage:
            return self.page(self.num_pages)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        # Pick the page's ids first (an index-only walk past the offset), then
        # load and join only those rows: joining before the OFFSET would join
        # every skipped row too.
        ids = list(
            self.object_list.values_list("pk", flat=True)[
                bottom : bottom + self.per_page + 1
            ]
        )
        has_more = len(ids) > self.per_page
        ids = ids[: self.per_page]
        by_id = {row.pk: row for row in self.rows.filter(pk__in=ids)}
        rows = [by_id[pk] for pk in ids if pk in by_id]
        if self.is_count_capped:
            return CappedPage(rows, number, self, has_more=has_more)
        return Page(rows, number, self)
