"""The object gunicorn serves: `gunicorn gateway.wsgi:app`."""
from gateway.app import create_app

app = create_app(cached_reads=True)
app.extensions["nszm"].tokens.ensure_indexes()
app.extensions["nszm"].sessions.ensure_indexes()
