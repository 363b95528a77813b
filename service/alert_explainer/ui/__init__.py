"""The operator's page: notification history, its JSON API, and a preview of what would be sent."""
