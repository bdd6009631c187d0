"""REST API v1 of nurturing: email templates, sequences and their steps, enrollments."""
