"""The funding section of the project page: `{% project_funding project %}` (see funding/_project_section.html)."""

from __future__ import annotations

from django import template

from keyprojects.funding import figures

register = template.Library()


@register.inclusion_tag("funding/_project_funding.html", takes_context=True)
def project_funding(context, project):
    from keyprojects.funding.views import project_section_context

    request = context["request"]
    return {**project_section_context(request, project), "request": request, "user": request.user}


@register.filter
def rate(value) -> str:
    """A ratio as a percentage to 0.1 ("81.3%"), never capped; "—" when there is none."""
    return figures.percent(value)


@register.filter
def yi(value) -> str:
    """万元 as 亿元 with 2 decimals, without the unit ("20.37")."""
    converted = figures.to_yi(value)
    return "—" if converted is None else f"{converted:,}"
