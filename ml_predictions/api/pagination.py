from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """?page=&page_size= (seed 001), capped so a client cannot ask for the whole table."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
