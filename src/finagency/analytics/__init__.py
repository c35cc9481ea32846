"""Business figures for the API and the dashboard, computed in SQL."""
