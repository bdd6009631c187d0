"""REST API v1 of offers: products, offers (with send, win, lose) and ownership."""
