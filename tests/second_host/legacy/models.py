"""The second host's own shop, named unlike `shop` everywhere: Client/Article/Sale/SaleLine."""
from django.db import models


class Client(models.Model):
    full_name = models.CharField(max_length=100)
    signed_up = models.DateTimeField()


class Article(models.Model):
    title = models.CharField(max_length=100)
    family = models.CharField(max_length=50)
    list_price = models.DecimalField(max_digits=10, decimal_places=2)
    unit_cost = models.DecimalField(max_digits=10, decimal_places=2)
    on_hand = models.IntegerField(default=0)


class Sale(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE)
    sold_on = models.DateTimeField()
    state = models.CharField(max_length=10, default="paid")


class SaleLine(models.Model):
    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="lines")
    article = models.ForeignKey(Article, on_delete=models.CASCADE)
    qty = models.IntegerField()
    price = models.DecimalField(max_digits=10, decimal_places=2)
