"""The HTTP gateway: composes the services for the websites, staff and feeds."""
