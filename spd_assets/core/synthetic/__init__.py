"""The synthetic demo shop: catalog, demand seasonality, orders and the drops injected into them."""
