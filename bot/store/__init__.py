"""relaydesk's store of shop data: customers, products, orders, shipments, returns, refunds.

Modules (import what you need; this package re-exports nothing so that importing the views does
not pull in SQLAlchemy engines or Alembic):

- `database`    Database: engine, transactional sessions, migrations
- `repository`  StoreRepository: the SQL adapter of `ports.StorePort`
- `views`       frozen dataclasses the rest of the app receives
- `vocabulary`  the status enums
- `seed`        load_export(): loads a JSON store export (format in docs/store.md)
"""
