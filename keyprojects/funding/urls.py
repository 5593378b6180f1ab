from django.urls import path

from keyprojects.funding import views

urlpatterns = [
    # /funding/: the district view, its export, 拿地即开工
    path("funding/", views.district, name="funding-district"),
    path("funding/export.xlsx", views.district_export, name="funding-export"),
    path("funding/land/", views.land_to_start, name="funding-land"),
    # A project's funding lines, land record and acceleration measures (a section of the project page)
    path("funding/projects/<int:pk>/lines/new/", views.line_create, name="funding-line-create"),
    path("funding/lines/<int:pk>/", views.line_edit, name="funding-line-edit"),
    path("funding/lines/<int:pk>/delete/", views.line_delete, name="funding-line-delete"),
    path("funding/projects/<int:pk>/land/", views.land_edit, name="funding-land-edit"),
    path(
        "funding/projects/<int:pk>/approvals/<int:item_pk>/measures/",
        views.acceleration_edit,
        name="funding-acceleration",
    ),  # fmt: skip
    # /service-matters/: the catalogue
    path("service-matters/", views.matter_list, name="matter-list"),
    path("service-matters/import/", views.matter_import, name="matter-import"),
    path("service-matters/export.xlsx", views.matter_export, name="matter-export"),
    # /industry-chains/
    path("industry-chains/", views.chain_list, name="chain-list"),
    path("industry-chains/new/", views.chain_create, name="chain-create"),
    path("industry-chains/<int:pk>/", views.chain_detail, name="chain-detail"),
    path("industry-chains/<int:pk>/edit/", views.chain_edit, name="chain-edit"),
    # /buildings/
    path("buildings/", views.building_list, name="building-list"),
    path("buildings/new/", views.building_create, name="building-create"),
    path("buildings/<int:pk>/", views.building_detail, name="building-detail"),
    path("buildings/<int:pk>/edit/", views.building_edit, name="building-edit"),
]
