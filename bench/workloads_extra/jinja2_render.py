"""A web page rendered with Jinja2: template inheritance, includes, macros, loops, filters and autoescaping
over a list of orders, plus one small template compiled from source per iteration (Jinja2's pure-Python
lexer, parser and code generator), as an application with template auto-reload would do.

Events come from jinja2's runtime and from the Python code it generated for the templates.
"""

import random

import jinja2

DEFAULT_ITERS = 400

TEMPLATES = {
    "base.html": """<!doctype html>
<html><head><title>{% block title %}Shop{% endblock %}</title></head>
<body>
{% include "nav.html" %}
<main>{% block content %}{% endblock %}</main>
<footer>{{ footer | default("(c) shop") }}</footer>
</body></html>
""",
    "nav.html": """<nav>{% for link in links %}<a href="{{ link.url }}"{% if link.active %} class="active"{% endif %}>{{ link.title | title }}</a>{% endfor %}</nav>""",
    "macros.html": """{% macro money(value, currency="EUR") -%}
{{ "%.2f" | format(value) }} {{ currency }}
{%- endmacro %}
{% macro badge(status) -%}
<span class="badge badge-{{ status | lower }}">{{ status }}</span>
{%- endmacro %}
""",
    "orders.html": """{% extends "base.html" %}
{% from "macros.html" import money, badge %}
{% block title %}Orders of {{ customer.name }}{% endblock %}
{% block content %}
<h1>{{ customer.name | e }} ({{ orders | length }} orders)</h1>
<table>
{% for order in orders | sort(attribute="total", reverse=True) %}
  <tr class="{{ loop.cycle('odd', 'even') }}">
    <td>{{ loop.index }}</td><td>{{ order.id }}</td><td>{{ badge(order.status) }}</td>
    <td>{{ money(order.total) }}</td>
    <td>{% for item in order["items"] %}{{ item.name | truncate(12) }} x{{ item.qty }}{% if not loop.last %}, {% endif %}{% endfor %}</td>
    <td>{{ order.note or "-" }}</td>
  </tr>
{% else %}
  <tr><td colspan="6">no orders</td></tr>
{% endfor %}
</table>
<p>Total: {{ money(orders | sum(attribute="total")) }}</p>
{% endblock %}
""",
}

# Compiled afresh in every iteration.
SNIPPET = """{% for name, count in counts | dictsort %}{{ name | upper }}={{ count }}{% if not loop.last %};{% endif %}{% endfor %}"""

PRODUCTS = ("widget", "gadget", "doohickey", "sprocket", "thingamajig", "whatsit", "gizmo", "contraption")
STATUSES = ("NEW", "PAID", "SHIPPED", "<cancelled>")


def setup():
    rng = random.Random(20261126)
    environment = jinja2.Environment(loader=jinja2.DictLoader(TEMPLATES), autoescape=True)
    orders = [
        {
            "id": f"A{1000 + number}",
            "status": rng.choice(STATUSES),
            "total": round(rng.uniform(5, 500), 2),
            "items": [{"name": rng.choice(PRODUCTS), "qty": rng.randint(1, 5)} for _ in range(rng.randint(1, 4))],
            "note": rng.choice((None, "gift wrap", "leave at the door & ring")),
        }
        for number in range(20)
    ]
    context = {
        "customer": {"name": "Ada <Lovelace>"},
        "orders": orders,
        "links": [{"url": f"/{name}", "title": name, "active": name == "orders"} for name in ("home", "orders", "account")],
    }
    counts = {product: index for index, product in enumerate(PRODUCTS)}
    return environment, context, counts


def iteration(state):
    environment, context, counts = state
    page = environment.get_template("orders.html").render(context)
    summary = environment.from_string(SNIPPET).render(counts=counts)
    return len(page) + len(summary)
