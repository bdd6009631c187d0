"""The planning page and saved plans with plan-vs-actual."""

urlpatterns: list = []
