from django.urls import path

from keyprojects.visits import views

urlpatterns = [
    # 现场办公
    path("visits/", views.visit_list, name="visit-list"),
    path("visits/new/", views.visit_create, name="visit-create"),
    path("visits/<int:pk>/", views.visit_detail, name="visit-detail"),
    path("visits/<int:pk>/demands/", views.visit_add_demand, name="visit-add-demand"),
    path("visits/<int:pk>/decisions/", views.visit_add_decision, name="visit-add-decision"),
    path("visits/<int:pk>/photos/", views.visit_add_photos, name="visit-add-photos"),
    path("visits/photos/<int:pk>/", views.photo, name="visit-photo"),
    # 周调度会 / 专题会
    path("visits/meetings/", views.meeting_list, name="meeting-list"),
    path("visits/meetings/new/", views.meeting_create, name="meeting-create"),
    path("visits/meetings/<int:pk>/", views.meeting_detail, name="meeting-detail"),
    path("visits/meetings/<int:pk>/decisions/", views.meeting_add_decision, name="meeting-add-decision"),
    # 领导批示 / 交办
    path("visits/instructions/", views.instruction_list, name="instruction-list"),
    path("visits/instructions/new/", views.instruction_create, name="instruction-create"),
    path("visits/instructions/<int:pk>/", views.instruction_detail, name="instruction-detail"),
    # 首席服务员
    path("officers/", views.officer_list, name="officer-list"),
    path("officers/pairings/new/", views.pairing_create, name="pairing-create"),
    path("officers/pairings/<int:pk>/end/", views.pairing_end, name="pairing-end"),
    path("officers/<int:pk>/", views.officer_detail, name="officer-detail"),
    path("officers/<int:pk>/visits/", views.officer_add_visit, name="officer-add-visit"),
    path("officers/<int:pk>/policies/", views.officer_add_policy, name="officer-add-policy"),
]
