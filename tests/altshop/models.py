"""A legacy shop whose schema differs from `shop` in every name: integer keys, other field names,
line totals instead of unit prices, a separate 'voided' flag. Used to prove that the ORM data source
plugs into another shop by settings alone."""
from django.db import models


class Client(models.Model):
    signup = models.DateTimeField()


class Article(models.Model):
    code = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=100)
    family = models.CharField(max_length=50)
    list_price = models.DecimalField(max_digits=10, decimal_places=2)
    purchase_price = models.DecimalField(max_digits=10, decimal_places=2, null=True)
    on_hand = models.IntegerField(default=0)


class Sale(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE)
    sold_on = models.DateTimeField()
    state = models.CharField(max_length=10, default="ok")


class SaleLine(models.Model):
    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="lines")
    article = models.ForeignKey(Article, on_delete=models.CASCADE)
    units = models.IntegerField()
    price_each = models.DecimalField(max_digits=10, decimal_places=2)
