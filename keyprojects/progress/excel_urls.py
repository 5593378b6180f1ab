"""Excel in and out (pages): the monthly-report template and upload, the ledger and monthly-table exports."""

from django.urls import path

from keyprojects.progress import excel_views

urlpatterns = [
    path("reports/excel/", excel_views.report_excel, name="report-excel"),
    path("reports/excel/template.xlsx", excel_views.report_template, name="report-template"),
    path("reports/excel/errors/<str:token>.xlsx", excel_views.report_import_errors, name="report-import-errors"),
    path("reports/export.xlsx", excel_views.report_month_export, name="report-month-export"),
    path("projects/export.xlsx", excel_views.project_export, name="project-export"),
]
