"""REST API v1 of the funnel: stages, companies, contacts (../shared/API.md)."""
