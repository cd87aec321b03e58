"""Runs kombu's own sweep of overdue binding tables on the app's Redis broker (what every kombu
channel consuming an expiring queue does each minute) and prints how many tables it swept."""
from tasks import app

with app.connection_for_write() as connection:
    print(connection.default_channel.sweep_bindings())
app.close()
