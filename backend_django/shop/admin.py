from django.contrib import admin

from .models import Category, Customer, Order, OrderItem, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    search_fields = ["name"]
    list_display = ["name"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "sku", "category", "price", "cost", "stock_quantity", "lead_time_days", "is_active"]
    list_filter = ["category", "is_active"]
    search_fields = ["name", "sku", "description"]
    list_select_related = ["category"]
    list_editable = ["stock_quantity", "is_active"]


class OrderInline(admin.TabularInline):
    model = Order
    extra = 0
    fields = ["created_at", "status", "channel"]
    show_change_link = True
    ordering = ["-created_at"]
    max_num = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "country", "created_at"]
    list_filter = ["country"]
    search_fields = ["email", "first_name", "last_name", "external_id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["user"]
    inlines = [OrderInline]


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    raw_id_fields = ["product"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["__str__", "customer", "created_at", "status", "channel"]
    list_filter = ["status", "channel"]
    search_fields = ["external_id", "customer__email"]
    date_hierarchy = "created_at"
    raw_id_fields = ["customer"]
    list_select_related = ["customer"]
    inlines = [OrderItemInline]
