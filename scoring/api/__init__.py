"""REST API of the scoring app (../shared/API.md: Events, contact score, scoring configuration)."""
