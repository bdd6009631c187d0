from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import user_views, views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", views.account_settings, name="account-settings"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("account/tokens/", views.token_create, name="account-token-create"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="account-token-revoke"),
    # User management (admin role)
    path("users/", user_views.user_list, name="user-list"),
    path("users/new/", user_views.user_create, name="user-create"),
    path("users/<int:pk>/", user_views.user_detail, name="user-detail"),
    path("users/<int:pk>/roles/", user_views.user_roles, name="user-roles"),
    path("users/<int:pk>/deactivate/", user_views.user_set_active, {"active": False}, name="user-deactivate"),
    path("users/<int:pk>/reactivate/", user_views.user_set_active, {"active": True}, name="user-reactivate"),
    path(
        "users/<int:pk>/tokens/<int:token_pk>/revoke/",
        user_views.user_token_revoke,
        name="user-token-revoke",
    ),
]
