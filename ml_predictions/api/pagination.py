from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """?page=&page_size= (the original brief's pagination), capped so a client cannot ask for the whole table."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
