from django.urls import path

from keyprojects.security import views

urlpatterns = [
    path("2fa/", views.otp_verify, name="otp-verify"),
    path("2fa/setup/", views.otp_setup, name="otp-setup"),
    path("password/", views.PasswordChangeView.as_view(), name="password-change"),
]
