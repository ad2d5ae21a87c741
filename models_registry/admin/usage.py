"""The "Usage" dashboard in the admin, and the headline figures of the admin's landing page.

The dashboard (the usage rollups' list page) reads only rollups, through
:mod:`models_registry.usage.reports`: a fixed number of queries whatever the range or the
volume. Charts are drawn on the server by pygal as inline SVG: no JavaScript and no asset
from the network, so the admin works offline. Every table has a CSV export
(``?export=<table>`` with the same range).

The landing page's figures come from sources registered with :func:`register_landing_figures`
(each needs one permission and makes at most one query), so another app (the auto-router)
adds its figures without this package importing it.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pygal
from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from pygal.etree import etree
from pygal.style import Style

from models_registry.domain.values import format_money
from models_registry.models import ProposedChange, UsageRollup
from models_registry.rollout.flags import current_percents
from models_registry.sync.models import Decision
from models_registry.usage import reports
from models_registry.usage.reports import DateRange, Figures, SubjectRow, UsageRow

USAGE_PERMISSION = "models_registry.view_usagerollup"
PRESETS = {"today": ("Today", 1), "7d": ("7 days", 7), "30d": ("30 days", 30), "90d": ("90 days", 90)}
DEFAULT_PRESET = "7d"
MODELS_SHOWN = 50  # on the page; the CSV has every model
# The CSV's top subjects (the page shows reports.TOP_SUBJECTS): 100 over 90 days of 50,000 subjects
# is about 0.5 s on PostgreSQL; 1,000 took 2 s (the exact top can no longer come from each day's top).
SUBJECTS_EXPORTED = 100
CHART_BARS = 10  # the by-model chart's bars


def today_utc() -> date:
    return timezone.now().astimezone(UTC).date()


# --- the date range ---


class RangeForm(forms.Form):
    """A preset, or the first and last days (UTC, both included)."""

    preset = forms.ChoiceField(choices=[(key, label) for key, (label, _) in PRESETS.items()], required=False)
    first_day = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "“From” is not a date: give it as YYYY-MM-DD."},
    )
    last_day = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "“To” is not a date: give it as YYYY-MM-DD."},
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.span: DateRange | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        first, last = data.get("first_day"), data.get("last_day")
        preset = data.get("preset") or (DEFAULT_PRESET if first is None and last is None else "")
        try:
            if preset:
                self.span = DateRange.last_days(PRESETS[preset][1], self.today)
            else:
                last = last or max(first, self.today)
                first = first or last - timedelta(days=PRESETS[DEFAULT_PRESET][1] - 1)
                if last < first:
                    raise ValueError("“To” is before “From”.")
                self.span = DateRange(first, last + timedelta(days=1))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        except OverflowError:  # a day next to year 1 or 9999
            raise forms.ValidationError("These dates are out of range.") from None
        return data


def range_query(span: DateRange, preset: str = "") -> dict[str, str]:
    if preset:
        return {"preset": preset}
    return {"first_day": span.start.isoformat(), "last_day": span.last_day.isoformat()}


# --- tables (the page and the CSV share their columns) ---


@dataclass(frozen=True)
class Column:
    title: str
    csv: Callable[[Any], Any]  # the exact value (money as a decimal string)
    html: Callable[[Any], str] | None = None  # the shown value; default: the CSV's
    numeric: bool = True
    on_page: bool = True  # False: in the CSV only


def _usd(value: Decimal) -> str:
    """Money for reading: cents, or the first significant digits below a cent (the CSV is exact)."""
    if value == 0 or abs(value) >= Decimal("0.01"):
        return f"${value:,.2f}"
    return f"${value:.6f}".rstrip("0")


def _count(value: int) -> str:
    return f"{value:,}"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _ms(value: int | None) -> str:
    return "—" if value is None else f"≤ {value:,} ms"


def _csv_rate(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _figure_columns(get: Callable[[Any], Figures]) -> list[Column]:
    return [
        Column("requests", lambda row: get(row).requests, lambda row: _count(get(row).requests)),
        Column("errors", lambda row: get(row).errors, lambda row: _count(get(row).errors)),
        Column(
            "error rate", lambda row: _csv_rate(get(row).error_rate), lambda row: _rate(get(row).error_rate)
        ),
        Column("input tokens", lambda row: get(row).input_tokens, lambda row: _count(get(row).input_tokens)),
        Column("cached input tokens", lambda row: get(row).cached_input_tokens, on_page=False),
        Column("cache write tokens", lambda row: get(row).cache_write_tokens, on_page=False),
        Column(
            "output tokens", lambda row: get(row).output_tokens, lambda row: _count(get(row).output_tokens)
        ),
        Column("reasoning tokens", lambda row: get(row).reasoning_tokens, on_page=False),
        Column("cost (USD)", lambda row: format_money(get(row).cost), lambda row: _usd(get(row).cost)),
    ]


_LATENCY = [
    Column("p50 latency", lambda row: row.p50_ms or "", lambda row: _ms(row.p50_ms)),
    Column("p95 latency", lambda row: row.p95_ms or "", lambda row: _ms(row.p95_ms)),
]
MODEL_COLUMNS = [
    Column("model", lambda row: row.key, numeric=False),
    Column("provider", lambda row: row.provider, numeric=False),
    *_figure_columns(lambda row: row.figures),
    *_LATENCY,
]
PROVIDER_COLUMNS = [
    Column("provider", lambda row: row.key, numeric=False),
    Column("models", lambda row: row.models),
    *_figure_columns(lambda row: row.figures),
    *_LATENCY,
]
SUBJECT_COLUMNS = [
    Column("subject", lambda row: row.subject_key, numeric=False),
    Column("requests", lambda row: row.requests, lambda row: _count(row.requests)),
    Column("errors", lambda row: row.errors, lambda row: _count(row.errors)),
    Column("error rate", lambda row: _csv_rate(row.error_rate), lambda row: _rate(row.error_rate)),
    Column("tokens", lambda row: row.tokens, lambda row: _count(row.tokens)),
    Column("cost (USD)", lambda row: format_money(row.cost), lambda row: _usd(row.cost)),
]


def _share_columns(key: str) -> list[Column]:
    return [
        Column(key, lambda row: row.key, numeric=False),
        Column("routed requests", lambda row: row.requests, lambda row: _count(row.requests)),
        Column("share", lambda row: f"{row.share:.6f}", lambda row: _rate(row.share)),
        Column("cost (USD)", lambda row: format_money(row.cost), lambda row: _usd(row.cost)),
    ]


@dataclass
class Table:
    name: str  # the ``export`` key
    title: str
    columns: Sequence[Column]
    rows: Sequence[Any]

    def csv_rows(self) -> Iterable[list[Any]]:
        yield [column.title for column in self.columns]
        for row in self.rows:
            yield [_csv_cell(column.csv(row)) for column in self.columns]

    def html(self, limit: int | None = None) -> dict[str, Any]:
        """Headers and display rows for the template (the CSV-only columns left out)."""
        shown = [column for column in self.columns if column.on_page]
        rows = self.rows if limit is None else self.rows[:limit]
        return {
            "name": self.name,
            "title": self.title,
            "headers": [(column.title, column.numeric) for column in shown],
            "rows": [
                [
                    (str(column.csv(row)) if column.html is None else column.html(row), column.numeric)
                    for column in shown
                ]
                for row in rows
            ],
            "more": max(0, len(self.rows) - len(rows)),
        }


def _csv_cell(value: Any) -> Any:
    # Keys come from callers (subjects, model ids): never let a spreadsheet read one as a formula.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def series_table(span: DateRange, points: Sequence[reports.SeriesPoint]) -> Table:
    bucket = "hour" if span.period == "hour" else "day"
    shown = "%Y-%m-%d %H:%M UTC" if span.period == "hour" else "%Y-%m-%d"
    when = Column(
        f"{bucket} (UTC)",
        lambda point: point.bucket_start.isoformat(),
        lambda point: point.bucket_start.strftime(shown),
        numeric=False,
    )
    return Table(
        "series", f"Per {bucket} (UTC)", [when, *_figure_columns(lambda point: point.figures)], points
    )


def model_table(rows: Sequence[UsageRow]) -> Table:
    return Table("models", "By model", MODEL_COLUMNS, rows)


def provider_table(rows: Sequence[UsageRow]) -> Table:
    return Table("providers", "By provider", PROVIDER_COLUMNS, rows)


def subject_table(rows: Sequence[SubjectRow], limit: int) -> Table:
    return Table("subjects", f"Top {limit:,} subjects by cost", SUBJECT_COLUMNS, rows)


def share_tables(router: reports.RouterReport) -> list[Table]:
    return [
        Table("router_tiers", "Routed requests by tier", _share_columns("tier"), router.by_tier),
        Table("router_models", "Routed requests by model", _share_columns("model"), router.by_model),
        Table(
            "router_categories", "Routed requests by category", _share_columns("category"), router.by_category
        ),
    ]


def _export_table(name: str, span: DateRange) -> Table | None:
    """One table for its CSV, computing only what it needs."""
    if name == "series":
        return series_table(span, reports.series(span))
    if name == "models":
        return model_table(reports.by_model(span))
    if name == "providers":
        return provider_table(reports.by_provider(reports.by_model(span)))
    if name == "subjects":
        return subject_table(reports.top_subjects(span, SUBJECTS_EXPORTED), SUBJECTS_EXPORTED)
    if name.startswith("router_"):
        all_requests = reports.totals(reports.series(span)).requests
        tables = {table.name: table for table in share_tables(reports.router(span, all_requests))}
        return tables.get(name)
    return None


EXPORTS = ("series", "models", "providers", "subjects", "router_tiers", "router_models", "router_categories")


def csv_response(table: Table, span: DateRange) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"usage-{table.name}-{span.start.isoformat()}-to-{span.last_day.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    csv.writer(response).writerows(table.csv_rows())
    return response


# --- charts (pygal: SVG drawn on the server, inline in the page) ---

# Colours follow the admin's theme variables, so the charts read in dark mode too.
CHART_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="var(--body-fg, #333)",
    foreground_strong="var(--body-fg, #333)",
    foreground_subtle="var(--hairline-color, #ccc)",
    opacity=".85",
    opacity_hover="1",
    font_family="inherit",
    label_font_size=14,
    major_label_font_size=14,
    legend_font_size=14,
    title_font_size=17,
    no_data_font_size=20,
    colors=("#417690", "#e0a030", "#79aec8", "#ba2121", "#5b8a3c", "#8a5fbf", "#c86f9a", "#3c8a88"),
)


def _render(chart: Any) -> SafeString:
    """The chart's SVG, without pygal's inline script (a dump of its config for its optional
    tooltip script, which is not loaded): the page runs no chart JavaScript at all."""
    tree = chart.render_tree()
    for parent in tree.iter():
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    # ElementTree escapes every label it writes (model ids and subject keys are callers' text).
    return mark_safe(etree.tostring(tree, encoding="unicode"))


def _chart(kind: type, title: str, *, width: int = 640, **options: Any) -> Any:
    return kind(
        title=title,
        style=CHART_STYLE,
        js=(),  # pygal's default tooltip script is on a CDN: none, the admin works offline
        width=width,
        height=320,
        margin=12,
        max_scale=6,  # a few round graduations, not sixteen
        no_data_text="No usage in this range",
        print_values=False,
        **options,
    )


def _axis_labels(span: DateRange, points: Sequence[reports.SeriesPoint], *, shown: int) -> dict[str, Any]:
    """The time axis, with about ``shown`` labels (the others are left out, not crammed)."""
    fmt = "%d %H:00" if span.period == "hour" else "%m-%d"
    return {
        "x_labels": [point.bucket_start.strftime(fmt) for point in points],
        "x_labels_major_every": max(1, -(-len(points) // shown)),
        "show_minor_x_labels": False,
        "x_label_rotation": 30,
        "x_title": "UTC " + ("hour" if span.period == "hour" else "day"),
    }


def charts(dash: reports.Dashboard) -> dict[str, SafeString]:
    span, points = dash.range, dash.series
    wide, axis = _axis_labels(span, points, shown=16), _axis_labels(span, points, shown=8)
    empty = dash.totals.requests == 0

    spend = _chart(
        pygal.Bar,
        "Spend (USD)",
        width=1280,
        show_legend=False,
        value_formatter=lambda v: f"${v:,.2f}",
        **wide,
    )
    spend.add("spend", None if empty else [float(point.figures.cost) for point in points])

    requests = _chart(pygal.Line, "Requests", value_formatter=lambda v: f"{v:,.0f}", show_dots=False, **axis)
    requests.add("requests", None if empty else [point.figures.requests for point in points], fill=True)
    requests.add("errors", None if empty else [point.figures.errors for point in points])

    tokens = _chart(pygal.StackedBar, "Tokens", value_formatter=lambda v: f"{v:,.0f}", **axis)
    tokens.add("input", None if empty else [point.figures.input_tokens for point in points])
    tokens.add("output", None if empty else [point.figures.output_tokens for point in points])

    top = dash.models[:CHART_BARS]
    models = _chart(
        pygal.HorizontalBar,
        f"Top {len(top)} models by spend (USD)",
        show_legend=False,
        value_formatter=lambda v: f"${v:,.2f}",
        x_labels=[row.key for row in reversed(top)],
        truncate_label=40,
    )
    models.add("spend", [float(row.figures.cost) for row in reversed(top)] or None)

    providers = _chart(
        pygal.Pie, "Spend by provider", inner_radius=0.45, value_formatter=lambda v: f"${v:,.2f}"
    )
    for row in dash.providers:
        providers.add(row.key, float(row.figures.cost))

    tiers = _chart(
        pygal.Pie, "Routed requests by tier", inner_radius=0.45, value_formatter=lambda v: f"{v:,.0f}"
    )
    for line in dash.router.by_tier:
        tiers.add(line.key, line.requests)

    categories = _chart(
        pygal.HorizontalBar,
        "Routed requests by category",
        show_legend=False,
        value_formatter=lambda v: f"{v:,.0f}",
        x_labels=[line.key for line in reversed(dash.router.by_category)],
    )
    categories.add("requests", [line.requests for line in reversed(dash.router.by_category)] or None)

    return {
        name: _render(chart)
        for name, chart in (
            ("spend", spend),
            ("requests", requests),
            ("tokens", tokens),
            ("models", models),
            ("providers", providers),
            ("tiers", tiers),
            ("categories", categories),
        )
    }


# --- the page ---


@admin.register(UsageRollup)
class UsageDashboardAdmin(admin.ModelAdmin):
    """The rollups' list page is the dashboard; single rollup rows have no page."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view(self.dashboard_view)
        return [path("", view, name="{}_{}_changelist".format(*info))]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = RangeForm(request.GET, today=today_utc())
        export = request.GET.get("export", "")
        if not form.is_valid() or form.span is None:
            return self._page(request, form, status=400)
        span = form.span
        preset = form.cleaned_data.get("preset") or ""
        if export:
            with reports.reading():
                table = _export_table(export, span) if export in EXPORTS else None
            if table is None:
                return self._page(request, form, status=400, error=f"There is no table “{export}” to export.")
            return csv_response(table, span)
        dash = reports.dashboard(span)
        router = dash.router
        query = range_query(span, preset)
        tables = {
            "series": series_table(span, dash.series),
            "models": model_table(dash.models),
            "providers": provider_table(dash.providers),
            "subjects": subject_table(dash.subjects, reports.TOP_SUBJECTS),
            **{table.name: table for table in share_tables(router)},
        }
        shown = {
            name: {
                **table.html(limit=MODELS_SHOWN if name in ("models", "router_models") else None),
                "export_url": "?" + urlencode({**query, "export": name}),
            }
            for name, table in tables.items()
        }
        return self._page(
            request,
            form,
            span=span,
            dash=dash,
            tables=shown,
            charts=charts(dash),
            preset=preset,
            subjects_exported=SUBJECTS_EXPORTED,
        )

    def _page(
        self,
        request: HttpRequest,
        form: RangeForm,
        *,
        status: int = 200,
        error: str = "",
        span: DateRange | None = None,
        dash: reports.Dashboard | None = None,
        **context: Any,
    ) -> TemplateResponse:
        errors = [error] if error else [message for messages in form.errors.values() for message in messages]
        presets = [
            {"key": key, "label": label, "url": "?" + urlencode({"preset": key})}
            for key, (label, _) in PRESETS.items()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Usage",
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "errors": errors,
            "presets": presets,
            "span": span,
            # The inputs show the range read (a preset's days too), or what was typed if refused.
            "first_day": span.start.isoformat() if span else request.GET.get("first_day", ""),
            "last_day": span.last_day.isoformat() if span else request.GET.get("last_day", ""),
            "dashboard": dash,
            "headline": _headline_cards(dash) if dash else [],
            **context,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/models_registry/usage/dashboard.html", context, status=status)


def _headline_cards(dash: reports.Dashboard) -> list[dict[str, str]]:
    total, router = dash.totals, dash.router
    return [
        {"key": "spend", "label": "Spend", "value": _usd(total.cost)},
        {"key": "requests", "label": "Requests", "value": _count(total.requests)},
        {"key": "tokens", "label": "Tokens", "value": _count(total.tokens)},
        {"key": "error-rate", "label": "Error rate", "value": _rate(total.error_rate)},
        {"key": "p50", "label": "p50 latency", "value": _ms(dash.p50_ms)},
        {"key": "p95", "label": "p95 latency", "value": _ms(dash.p95_ms)},
        {"key": "routed", "label": "Routed by the auto-router", "value": _rate(router.routed_share)},
        {"key": "stickiness", "label": "Router stickiness", "value": _rate(router.stickiness_rate)},
        {"key": "fallbacks", "label": "Router fallbacks", "value": _rate(router.fallback_rate)},
    ]


# --- the landing page's headline figures ---


@dataclass(frozen=True)
class LandingFigure:
    label: str
    value: str
    url: str = ""
    key: str = ""


@dataclass(frozen=True)
class _FigureSource:
    figures: Callable[[HttpRequest], list[LandingFigure]]
    permission: str
    order: int


_landing_sources: list[_FigureSource] = []


def register_landing_figures(
    figures: Callable[[HttpRequest], list[LandingFigure]], *, permission: str, order: int = 100
) -> None:
    """Show ``figures(request)`` on the admin's landing page to users with ``permission``.

    A source makes at most one query and never one per row: the landing page stays constant-query.
    """
    _landing_sources.append(_FigureSource(figures, permission, order))
    _landing_sources.sort(key=lambda source: source.order)


def landing_figures(request: HttpRequest) -> list[LandingFigure]:
    user = request.user
    found: list[LandingFigure] = []
    for source in _landing_sources:
        if user.has_perm(source.permission):
            found.extend(source.figures(request))
    return found


def _usage_today(request: HttpRequest) -> list[LandingFigure]:
    today = reports.headline(today_utc())
    url = reverse("admin:models_registry_usagerollup_changelist") + "?preset=today"
    return [
        LandingFigure("Spend today (UTC)", _usd(today.cost), url, "spend-today"),
        LandingFigure("Requests today", _count(today.requests), url, "requests-today"),
        LandingFigure("Error rate today", _rate(today.error_rate), url, "error-rate-today"),
    ]


def _rollout(request: HttpRequest) -> list[LandingFigure]:
    url = (
        reverse("admin:models_registry_rollout")
        if request.user.has_perm("models_registry.view_rolloutflag")
        else ""
    )
    return [
        LandingFigure(f"Rollout: {name}", f"{format_money(percent)}%", url, f"rollout-{name}")
        for name, percent in current_percents().items()
    ]


def _pending_sync_changes(request: HttpRequest) -> list[LandingFigure]:
    count = ProposedChange.objects.filter(decision=Decision.PENDING).count()
    url = reverse("admin:models_registry_proposedchange_changelist") + "?decision__exact=pending"
    return [LandingFigure("Pending sync changes", _count(count), url, "pending-sync-changes")]


register_landing_figures(_usage_today, permission=USAGE_PERMISSION, order=10)
register_landing_figures(_rollout, permission="models_registry.view_aimodel", order=20)
register_landing_figures(_pending_sync_changes, permission="models_registry.view_proposedchange", order=30)


def _with_landing_figures(index: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(index)
    def view(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return index(
            request, extra_context={"landing_figures": landing_figures(request), **(extra_context or {})}
        )

    return view


# The stock index view, given the figures (templates/admin/index.html shows them): the site's
# URLs are built after every admin module is imported, so they route to this one.
admin.site.index = _with_landing_figures(admin.site.index)  # type: ignore[method-assign]
