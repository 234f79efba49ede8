"""The Settings screen: the signed-in person's own preferences."""
