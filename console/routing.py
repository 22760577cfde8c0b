"""WebSocket routes of every app, gathered in one list (live throughput adds its consumer here)."""

websocket_urlpatterns: list = []
